// The demo shop's own button, calling the widget's JavaScript API.
document.getElementById('open-chat').addEventListener('click', () => window.Kefu && window.Kefu.open());
// The chat's language: FAQ answers and the widget's own texts follow it.
document.getElementById('chat-lang').addEventListener('change', (e) => window.Kefu && window.Kefu.setLanguage(e.target.value));
