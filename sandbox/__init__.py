"""The built-in vendor sandbox: a real HTTP implementation of every vendor API."""
