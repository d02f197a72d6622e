package push

// DocKindSub is the kind of the subscriptions' documents. They hold no
// position in the event log, so a move to another store (kefu migrate)
// copies them as they are and agents keep their notifications.
const DocKindSub = kindSub
