"""The store: the schema, its migrations and the engines that hold a workspace."""
