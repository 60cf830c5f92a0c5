"""Voice transcription: audio in, text and the command it states out. Works without the server."""
