// The demo shop's own button, calling the widget's JavaScript API.
document.getElementById('open-chat').addEventListener('click', () => window.Kefu && window.Kefu.open());
