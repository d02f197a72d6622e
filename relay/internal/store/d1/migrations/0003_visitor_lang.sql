-- The language the visitor's widget speaks (a catalogue's tag, "de"), for
-- the relay's own messages to them; '' until a widget has said it.
ALTER TABLE visitors ADD COLUMN lang TEXT NOT NULL DEFAULT '';
