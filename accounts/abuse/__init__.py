"""The guards against abuse: rate limits (`limits`), who the client is (`networks`),
pumped number ranges (`ranges`), bot checks (`bot_check`), and the status cache whose
answers also split the SMS budget (`status_cache`)."""
