"""Storage for the survey bot: models, engine, migrations runner and repositories."""
