"""psi0 bringup: parameter schemas, profiles, the process launcher and the `psi0` command."""
