//! Users service: accounts, login, tokens, throttling, password reset.
