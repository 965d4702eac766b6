"""The template's tests of the code it generated, apart from your app's tests (any names)."""
