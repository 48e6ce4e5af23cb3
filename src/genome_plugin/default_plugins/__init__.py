"""Built-in plugins: each module here is registered with the plugin manager exactly as a third party's."""
