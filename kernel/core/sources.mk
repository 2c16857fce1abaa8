# SPDX-License-Identifier: GPL-2.0
# The core's C++ sources: the one list both builds read. Kbuild includes
# this file; CMake (tests/host/CMakeLists.txt) parses the same assignment.
tlsup-core-sources := request.cpp pernet.cpp sock_index.cpp lifecycle.cpp
