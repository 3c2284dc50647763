#!/usr/bin/env python3
"""Runs Weft's benchmarks. Filled in as benchmarks land."""
import sys

BENCHMARKS = []

def main():
    if not BENCHMARKS:
        print("no benchmarks yet")
    return 0

if __name__ == "__main__":
    sys.exit(main())
