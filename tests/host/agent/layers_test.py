#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# agent/src's rooms are layers: a file includes only files of its own room
# and of the rooms before it (agent/CMakeLists.txt, TLSUPD_ROOMS; the map in
# Documentation/agent.rst). Also: every source file is in a room, no room
# is missing from the list, and no file name is in two rooms (the rooms are
# all on the include path, so #include "x.hpp" must name one file).
#
#   layers_test.py SRC_DIR ROOM...    (lowest room first)
import os
import re
import sys

src, rooms = sys.argv[1], sys.argv[2:]
failures = []
where = {}  # file name -> room
for entry in sorted(os.listdir(src)):
    path = os.path.join(src, entry)
    if not os.path.isdir(path):
        failures.append(f"{entry}: outside every room")
    elif entry not in rooms:
        failures.append(f"{entry}/: a room TLSUPD_ROOMS does not list")
for room in rooms:
    for name in sorted(os.listdir(os.path.join(src, room))):
        if name in where:
            failures.append(f"{name}: in {where[name]}/ and {room}/")
        where[name] = room
        if name.endswith(".hpp.in"):
            where[name[:-3]] = room  # configured into the build tree
include = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
for name, room in sorted(where.items()):
    path = os.path.join(src, room, name)
    if not os.path.isfile(path) or not name.endswith((".cpp", ".hpp")):
        continue
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = include.match(line)
            if not m:
                continue
            target = os.path.basename(m.group(1))
            if target not in where:
                continue  # not the agent's (the UAPI headers)
            if rooms.index(where[target]) > rooms.index(room):
                failures.append(f"{room}/{name}:{n}: includes {where[target]}/{target}, "
                                f"a room above {room}/")
for f in failures:
    print(f"layers: {f}")
print(f"layers: {len(where)} files in {len(rooms)} rooms, {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
