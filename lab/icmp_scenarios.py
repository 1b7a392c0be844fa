"""ICMP scenarios beyond Destination Unreachable: echo, redirect, time exceeded, ..."""
