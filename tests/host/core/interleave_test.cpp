// SPDX-License-Identifier: GPL-2.0
// The interleaving explorer: exactly-once as a tested fact. Every shim call
// the core makes is a point where another CPU may run (fake/sched.hpp). For
// each scenario (a set of operations racing on one request) it runs every
// schedule with up to kBound preemptions, depth-first, and after each run
// cleans up and checks: the callback ran once xor cancel returned true, a
// failed submit ran no callback, every pin, fd, keyring link, module and
// namespace reference came back, nothing is left on any list, no warning.
// The points are not chosen by hand: a new shim call adds points, and the
// number of interleavings explored grows with it.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>

#include "fake/sched.hpp"
#include "harness.hpp"

// GCC says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TLSUP_HAVE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TLSUP_HAVE_ASAN 1
#endif
#ifdef TLSUP_HAVE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace test {
namespace {

using fake::sched::Decision;
using fake::sched::Run;

// TLSUP_EXPLORE_BOUND raises it (make stress).
int bound() {
	const char *env = std::getenv("TLSUP_EXPLORE_BOUND");
	return env ? std::atoi(env) : 2;
}

struct Peer {
	Consumer c;
	bool submitted = false;
	int submit_ret = 1;
	bool cancel_true = false;
	bool closed = false;
};

// One run's world: fresh core, namespaces, consumers, an agent's fds.
struct World {
	fake::Kernel &k = fake::Kernel::get();
	fake::Net *net = nullptr;
	fake::Net *net2 = nullptr;
	std::vector<std::unique_ptr<Peer>> peers;
	std::vector<int> fds;  // accepted descriptors the agent holds
	int keyring_links = 0; // successful ACCEPTs of a request with a keyring
	int accepts = 0;
	bool exited[2] = {false, false};

	Peer &peer(int i) { return *peers[i]; }
	Peer &add_peer(fake::Net *n) {
		auto p = std::make_unique<Peer>();
		p->c.sk = k.new_socket(n);
		p->c.file = p->c.sk->file;
		peers.push_back(std::move(p));
		return *peers.back();
	}
	fake::Net *nets(int i) { return i ? net2 : net; }

	// The operations, as the kernel's callers perform them.
	void submit(int i, tlsup_submit a) {
		Peer &p = peer(i);
		const int ret = k.api_submit(p.c.sk->net, a);
		// A second submit on the same socket is another consumer call:
		// the first result is the one that owns the callback.
		if (!p.submitted || p.submit_ret != 0) {
			p.submitted = true;
			p.submit_ret = ret;
		}
	}
	void submit(int i) { submit(i, peer(i).c.args()); }
	void cancel(int i) {
		if (tlsup_core_cancel(peer(i).c.ksk()))
			peer(i).cancel_true = true;
	}
	void accept(int n = 0, int send_result = 0) {
		fake::Reply r;
		r.send_result = send_result;
		if (k.genl_accept(nets(n), HANDSHAKE_HANDLER_CLASS_TLSHD, &r) == 0) {
			fds.push_back(r.r.sockfd);
			accepts++;
			if (r.r.keyring)
				keyring_links++;
		}
	}
	void done(int fd, int status, int n = 0) {
		tlsup_done_cmd cmd{};
		cmd.sockfd = fd;
		cmd.has_status = true;
		cmd.status = static_cast<unsigned>(status);
		cmd.num_remote = 1;
		cmd.remote[0] = 1234;
		k.genl_done(nets(n), cmd);
	}
	void close(int i) {
		Peer &p = peer(i);
		p.closed = true;
		k.fput(p.c.file);
	}
	void netns_exit(int n) {
		exited[n] = true;
		k.netns_exit(nets(n));
	}
	void reap(int n = 0) {
		// As the shim's work item: the state while the namespace has it.
		fake::Net *nn = nets(n);
		nn->lock.lock();
		tlsup_core_pernet *core = nn->core;
		if (core)
			tlsup_core_pernet_get(core);
		nn->lock.unlock();
		if (core) {
			tlsup_core_pernet_reap(core);
			tlsup_core_pernet_put(core);
		}
	}
	// rmmod: refused while anything holds a module reference.
	void module_exit() {
		if (k.module_refs.load() != 0)
			return;
		fake::sched::point("module_exit");
		for (int n = 0; n < 2; n++)
			if (!exited[n])
				netns_exit(n);
		tlsup_core_exit();
		k.module_gone = true;
	}
};

struct Scenario {
	const char *name;
	std::function<void(World &)> setup;
	std::vector<std::function<void(World &)>> ops;
};

// After the competing operations: everyone lets go, then the checks.
std::string finish(World &w) {
	std::ostringstream bad;
	auto &k = w.k;
	if (!k.module_gone) {
		// The agent closes its descriptors, consumers cancel and close.
		for (int fd : w.fds)
			k.close_fd(fd);
		for (auto &p : w.peers) {
			if (tlsup_core_cancel(p->c.ksk()))
				p->cancel_true = true;
			if (!p->closed) {
				p->closed = true;
				k.fput(p->c.file);
			}
		}
		for (int n = 0; n < 2; n++) {
			fake::Net *nn = w.nets(n);
			if (!nn->core)
				continue;
			tlsup_stats st{};
			tlsup_core_pernet_stats(nn->core, &st);
			if (st.pending || st.inflight || st.live)
				bad << "net" << n << ": left pending=" << st.pending
				    << " inflight=" << st.inflight << " live=" << st.live << "\n";
			if (st.submitted != st.completed + st.cancelled)
				bad << "net" << n << ": submitted " << st.submitted
				    << " != completed " << st.completed << " + cancelled "
				    << st.cancelled << "\n";
		}
		for (int n = 0; n < 2; n++)
			if (!w.exited[n])
				w.netns_exit(n);
		tlsup_core_exit();
	}
	for (size_t i = 0; i < w.peers.size(); i++) {
		Peer &p = *w.peers[i];
		const int calls = p.c.cb.calls.load();
		if (calls > 1)
			bad << "peer " << i << ": callback ran " << calls << " times\n";
		if (p.submitted && p.submit_ret == 0 && (calls == 1) == p.cancel_true)
			bad << "peer " << i << ": submit returned 0, callback ran " << calls
			    << " times, cancel returned " << (p.cancel_true ? "true" : "false")
			    << " (must be exactly one of them)\n";
		if (p.submitted && p.submit_ret != 0 && calls != 0)
			bad << "peer " << i << ": submit failed (" << p.submit_ret
			    << ") but the callback ran\n";
		if (!p.c.sk->destroyed)
			bad << "peer " << i << ": socket never destroyed (refs "
			    << p.c.sk->refs.load() << ")\n";
		else if (p.c.sk->orig_destruct_calls != 1 || p.c.sk->default_destruct_calls != 0)
			bad << "peer " << i << ": original destructor ran "
			    << p.c.sk->orig_destruct_calls << " times, fallback "
			    << p.c.sk->default_destruct_calls << "\n";
	}
	if (k.live_allocs.load())
		bad << "leaked allocations: " << k.live_allocs.load() << "\n";
	if (k.module_refs.load())
		bad << "module references left: " << k.module_refs.load() << "\n";
	if (k.open_fds() || k.reserved_fds())
		bad << "descriptors left: " << k.open_fds() << " open, " << k.reserved_fds()
		    << " reserved\n";
	if (static_cast<int>(k.linked_keyrings.size()) != w.keyring_links)
		bad << "keyring links: " << k.linked_keyrings.size() << ", want " << w.keyring_links
		    << " (one per successful ACCEPT)\n";
	for (auto &warning : k.warnings())
		bad << "warning: " << warning << "\n";
	return bad.str();
}

int preemptions(const std::vector<Decision> &t, size_t upto) {
	int n = 0;
	for (size_t i = 0; i < upto && i < t.size(); i++) {
		const Decision &d = t[i];
		bool running_enabled = false;
		for (int e : d.enabled)
			running_enabled |= e == d.running;
		n += d.running >= 0 && running_enabled && d.chosen != d.running;
	}
	return n;
}

// A sanitizer report ends the process: say which run and schedule it was.
const Run *g_run = nullptr;
const char *g_scenario = nullptr;

[[maybe_unused]] void report_run_on_death() {
	if (g_run)
		std::fprintf(stderr,
		             "explorer: the report above is from scenario \"%s\", schedule:\n%s",
		             g_scenario, g_run->describe().c_str());
}

struct Explored {
	long runs = 0;
	long points = 0;
};

// Depth-first over schedules: each run's default choices past its forced
// prefix are branch points; every alternative within the bound is queued.
Explored explore(const Scenario &sc) {
	Explored ex;
	std::vector<std::vector<int>> todo{{}};
	while (!todo.empty()) {
		std::vector<int> forced = std::move(todo.back());
		todo.pop_back();

		auto &k = fake::Kernel::get();
		k.reset();
		World w;
		EXPECT_EQ(tlsup_core_init(), 0);
		w.net = k.new_net();
		w.net2 = k.new_net();
		k.max_pending = 8;
		sc.setup(w);
		Run run(forced);
		g_run = &run;
		g_scenario = sc.name;
		std::vector<std::function<void()>> ops;
		for (auto &op : sc.ops)
			ops.push_back([&w, &op] { op(w); });
		run.execute(ops);
		const std::string bad = finish(w);
		g_run = nullptr;
		delete w.net;
		delete w.net2;
		ex.runs++;
		ex.points += static_cast<long>(run.trace().size());
		if (!bad.empty()) {
			ADD_FAILURE() << sc.name << ": run " << ex.runs << " failed:\n"
			              << bad << "schedule:\n"
			              << run.describe();
			return ex;
		}

		const auto &t = run.trace();
		for (size_t i = forced.size(); i < t.size(); i++) {
			for (int alt : t[i].enabled) {
				if (alt == t[i].chosen)
					continue;
				std::vector<int> next;
				for (size_t j = 0; j < i; j++)
					next.push_back(t[j].chosen);
				next.push_back(alt);
				const bool preempts =
				        t[i].running >= 0 && alt != t[i].running && [&] {
					        for (int e : t[i].enabled)
						        if (e == t[i].running)
							        return true;
					        return false;
				        }();
				if (preemptions(t, i) + preempts <= bound())
					todo.push_back(std::move(next));
			}
		}
	}
	return ex;
}

tlsup_submit with_timeout(Consumer &c, unsigned ms) {
	tlsup_submit a = c.args();
	a.timeout_ms = ms;
	return a;
}

tlsup_submit with_keyring(Consumer &c, int ring) {
	tlsup_submit a = c.args();
	a.keyring = ring;
	return a;
}

// Puts peer @i's request in the accepted state; returns the agent's fd.
int accepted(World &w, int i, tlsup_submit a) {
	w.submit(i, a);
	w.accept();
	return w.fds.back();
}

std::vector<Scenario> scenarios() {
	auto nothing = [](World &) {};
	auto one_peer = [](World &w) { w.add_peer(w.net); };
	return {
	        {"submit vs cancel",
	         one_peer,
	         {[](World &w) { w.submit(0); }, [](World &w) { w.cancel(0); }}},
	        {"submit (no agent: -ESRCH) vs cancel",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.net->listeners = 0;
	         },
	         {[](World &w) { w.submit(0); }, [](World &w) { w.cancel(0); }}},
	        {"submit (READY fails: -ENOMEM) vs accept",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.net->notify_result = -ENOMEM;
	         },
	         {[](World &w) { w.submit(0); }, [](World &w) { w.accept(); }}},
	        {"submit (queue full: -EAGAIN) vs cancel",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.add_peer(w.net);
		         w.k.max_pending = 1;
		         w.submit(1);
	         },
	         {[](World &w) { w.submit(0); }, [](World &w) { w.cancel(0); }}},
	        {"submit vs accept",
	         one_peer,
	         {[](World &w) { w.submit(0); }, [](World &w) { w.accept(); }}},
	        {"submit vs accept vs cancel",
	         one_peer,
	         {[](World &w) { w.submit(0); }, [](World &w) { w.accept(); },
	          [](World &w) { w.cancel(0); }}},
	        {"submit vs second submit on the same socket",
	         one_peer,
	         {[](World &w) { w.submit(0); }, [](World &w) { w.submit(0); }}},
	        {"two submits on one socket vs cancel",
	         one_peer,
	         {[](World &w) { w.submit(0); }, [](World &w) { w.submit(0); },
	          [](World &w) { w.cancel(0); }}},
	        {"submit vs namespace exit",
	         one_peer,
	         {[](World &w) { w.submit(0); }, [](World &w) { w.netns_exit(0); }}},
	        {"submit (READY fails) vs namespace exit",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.net->notify_result = -ENOMEM;
	         },
	         {[](World &w) { w.submit(0); }, [](World &w) { w.netns_exit(0); }}},
	        {"accept vs cancel",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.submit(0, with_keyring(w.peer(0).c, 77));
	         },
	         {[](World &w) { w.accept(); }, [](World &w) { w.cancel(0); }}},
	        {"accept (reply fails) vs cancel",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.submit(0, with_keyring(w.peer(0).c, 77));
	         },
	         {[](World &w) { w.accept(0, -ENOBUFS); }, [](World &w) { w.cancel(0); }}},
	        {"accept vs accept",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.submit(0);
	         },
	         {[](World &w) { w.accept(); }, [](World &w) { w.accept(); }}},
	        {"accept vs namespace exit",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.submit(0);
	         },
	         {[](World &w) { w.accept(); }, [](World &w) { w.netns_exit(0); }}},
	        {"accept vs consumer close vs cancel",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.submit(0);
	         },
	         {[](World &w) { w.accept(); }, [](World &w) { w.close(0); },
	          [](World &w) { w.cancel(0); }}},
	        {"done vs cancel",
	         [](World &w) {
		         w.add_peer(w.net);
		         accepted(w, 0, w.peer(0).c.args());
	         },
	         {[](World &w) { w.done(w.fds[0], 0); }, [](World &w) { w.cancel(0); }}},
	        {"done vs cancel vs deadline",
	         [](World &w) {
		         w.add_peer(w.net);
		         accepted(w, 0, with_timeout(w.peer(0).c, 1));
		         w.k.now_ms += 10'000;
	         },
	         {[](World &w) { w.done(w.fds[0], 0); }, [](World &w) { w.cancel(0); },
	          [](World &w) { w.reap(); }}},
	        {"done vs done",
	         [](World &w) {
		         w.add_peer(w.net);
		         accepted(w, 0, w.peer(0).c.args());
	         },
	         {[](World &w) { w.done(w.fds[0], 0); },
	          [](World &w) { w.done(w.fds[0], EACCES); }}},
	        {"done vs namespace exit",
	         [](World &w) {
		         w.add_peer(w.net);
		         accepted(w, 0, w.peer(0).c.args());
	         },
	         {[](World &w) { w.done(w.fds[0], 0); }, [](World &w) { w.netns_exit(0); }}},
	        {"done from another namespace vs cancel",
	         [](World &w) {
		         w.add_peer(w.net);
		         accepted(w, 0, w.peer(0).c.args());
	         },
	         {[](World &w) { w.done(w.fds[0], 0, 1); }, [](World &w) { w.cancel(0); }}},
	        {"deadline vs namespace exit",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.add_peer(w.net);
		         accepted(w, 0, with_timeout(w.peer(0).c, 1));
		         w.submit(1, with_timeout(w.peer(1).c, 1));
		         w.k.now_ms += 10'000;
	         },
	         {[](World &w) { w.reap(); }, [](World &w) { w.netns_exit(0); }}},
	        {"cancel vs cancel",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.submit(0);
	         },
	         {[](World &w) { w.cancel(0); }, [](World &w) { w.cancel(0); }}},
	        {"consumer close vs done vs agent close (who drops the last reference)",
	         [](World &w) {
		         w.add_peer(w.net);
		         accepted(w, 0, w.peer(0).c.args());
	         },
	         {[](World &w) { w.close(0); }, [](World &w) { w.done(w.fds[0], 0); },
	          [](World &w) { w.k.close_fd(w.fds[0]); }}},
	        {"socket destruction vs module exit",
	         [](World &w) {
		         w.add_peer(w.net);
		         accepted(w, 0, w.peer(0).c.args());
		         w.done(w.fds[0], 0);
		         w.k.close_fd(w.fds[0]);
		         w.fds.clear();
	         },
	         {[](World &w) { w.close(0); }, [](World &w) { w.module_exit(); }}},
	        {"two namespaces: submit vs submit vs exit of one",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.add_peer(w.net2);
	         },
	         {[](World &w) { w.submit(0); }, [](World &w) { w.submit(1); },
	          [](World &w) { w.netns_exit(1); }}},
	        {"no operation at all", nothing, {}},
	};
}

TEST(Interleavings, ExactlyOnceUnderEverySchedule) {
#ifdef TLSUP_HAVE_ASAN
	__sanitizer_set_death_callback(report_run_on_death);
#endif
	long total = 0, points = 0;
	const auto all = scenarios();
	// TLSUP_EXPLORE_ONLY=text: only the scenarios whose name contains it.
	const char *only = std::getenv("TLSUP_EXPLORE_ONLY");
	for (const Scenario &sc : all) {
		if (only && !std::strstr(sc.name, only))
			continue;
		Explored ex = explore(sc);
		std::printf("  %-62s %7ld interleavings\n", sc.name, ex.runs);
		total += ex.runs;
		points += ex.points;
		if (::testing::Test::HasFailure())
			break;
	}
	std::printf("interleavings explored: %ld in %zu scenarios (preemption bound %d, "
	            "%ld scheduling points)\n",
	            total, all.size(), bound(), points);
	if (const char *out = std::getenv("TLSUP_EXPLORE_REPORT")) {
		if (FILE *f = std::fopen(out, "w")) {
			std::fprintf(f, "%ld %zu %d %ld\n", total, all.size(), bound(), points);
			std::fclose(f);
		}
	}
	EXPECT_GT(total, static_cast<long>(all.size()));
}

} // namespace
} // namespace test
