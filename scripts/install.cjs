// Placeholder until the native backend lands: the package installs and runs on the JS backend.
