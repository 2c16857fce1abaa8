#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""nlprobe: send raw "handshake" generic netlink commands and print how the
kernel answered, e.g. "accept=EPERM done=EPERM". Used by the end-to-end
suite to check that an unprivileged process is refused."""
import errno
import os
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
HANDSHAKE_CMD_ACCEPT, HANDSHAKE_CMD_DONE = 2, 3
HANDSHAKE_A_ACCEPT_HANDLER_CLASS = 2
HANDSHAKE_A_DONE_STATUS, HANDSHAKE_A_DONE_SOCKFD = 1, 2


def attr(atype, payload):
    length = 4 + len(payload)
    return struct.pack("<HH", length, atype) + payload + b"\0" * ((4 - length % 4) % 4)


def request(sock, family, cmd, attrs, seq):
    body = struct.pack("<BBH", cmd, 1, 0) + attrs
    msg = struct.pack("<IHHII", 16 + len(body), family, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body
    sock.send(msg)
    reply = None
    while True:
        data = sock.recv(65536)
        off = 0
        while off + 16 <= len(data):
            length, mtype, _, mseq, _ = struct.unpack_from("<IHHII", data, off)
            if mtype == NLMSG_ERROR and mseq == seq:
                (err,) = struct.unpack_from("<i", data, off + 16)
                return err, reply
            if mseq == seq:
                reply = data[off + 20:off + length]
            off += (length + 3) & ~3


def family_id(sock):
    err, reply = request(sock, GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                         attr(CTRL_ATTR_FAMILY_NAME, b"handshake\0"), 1)
    if err or reply is None:
        sys.exit("nlprobe: no 'handshake' family (%s)" % errno.errorcode.get(-err, err))
    off = 0
    while off + 4 <= len(reply):
        length, atype = struct.unpack_from("<HH", reply, off)
        if atype == CTRL_ATTR_FAMILY_ID:
            return struct.unpack_from("<H", reply, off + 4)[0]
        off += (length + 3) & ~3
    sys.exit("nlprobe: no family id in the reply")


def name(err):
    return "OK" if err == 0 else errno.errorcode.get(-err, str(err))


def main():
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    sock.bind((0, 0))
    fam = family_id(sock)
    out = []
    for i, what in enumerate(sys.argv[1:], start=2):
        if what == "accept":
            err, _ = request(sock, fam, HANDSHAKE_CMD_ACCEPT,
                             attr(HANDSHAKE_A_ACCEPT_HANDLER_CLASS, struct.pack("<I", 1)), i)
        elif what == "done":
            fd = os.open("/dev/null", os.O_RDONLY)
            err, _ = request(sock, fam, HANDSHAKE_CMD_DONE,
                             attr(HANDSHAKE_A_DONE_SOCKFD, struct.pack("<i", fd)) +
                             attr(HANDSHAKE_A_DONE_STATUS, struct.pack("<I", 0)), i)
        else:
            sys.exit("nlprobe: unknown command %s" % what)
        out.append("%s=%s" % (what, name(err)))
    print(" ".join(out))


if __name__ == "__main__":
    main()
