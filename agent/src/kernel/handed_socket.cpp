// SPDX-License-Identifier: GPL-2.0
#include "handed_socket.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>

namespace tlsup {

Result<HandedSocket> inspect_handed_socket(int fd) {
	HandedSocket s;
	socklen_t len = sizeof(s.peer);
	int unconnected = 0;
	if (getpeername(fd, reinterpret_cast<sockaddr *>(&s.peer), &len) < 0) {
		if (errno == ENOTSOCK || errno == EBADF)
			return make_error(EINVAL, "fd %d is not a socket: %s", fd, strerror(errno));
		// Not connected: the family still decides between EOPNOTSUPP
		// and ETIMEDOUT.
		unconnected = errno;
		int domain = AF_UNSPEC;
		len = sizeof(domain);
		getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
		s.peer.ss_family = static_cast<sa_family_t>(domain);
	}
	int protocol = 0;
	len = sizeof(protocol);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0)
		return make_error(EINVAL, "fd %d: SO_PROTOCOL: %s", fd, strerror(errno));
	// IPPROTO_TCP over AF_INET/AF_INET6 is a SOCK_STREAM socket.
	int family = s.peer.ss_family;
	if ((family != AF_INET && family != AF_INET6) || protocol != IPPROTO_TCP)
		return make_error(
		        EOPNOTSUPP,
		        "socket is not TCP over IPv4/IPv6 (family %d, protocol %d): QUIC, "
		        "MPTCP, UDP and the like are not handled",
		        family, protocol);
	if (unconnected)
		return make_error(ETIMEDOUT, "socket is not connected: %s", strerror(unconnected));
	return s;
}

std::string peer_text(const sockaddr_storage &peer) {
	char host[INET6_ADDRSTRLEN] = "";
	if (peer.ss_family == AF_INET) {
		const auto &a = reinterpret_cast<const sockaddr_in &>(peer);
		inet_ntop(AF_INET, &a.sin_addr, host, sizeof(host));
		return std::string(host) + ":" + std::to_string(ntohs(a.sin_port));
	}
	if (peer.ss_family == AF_INET6) {
		const auto &a = reinterpret_cast<const sockaddr_in6 &>(peer);
		inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof(host));
		return "[" + std::string(host) + "]:" + std::to_string(ntohs(a.sin6_port));
	}
	return {};
}

} // namespace tlsup
