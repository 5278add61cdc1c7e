"""Third-party test code, vendored unchanged (each file says where from and which version)."""
