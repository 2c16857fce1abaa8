// SPDX-License-Identifier: GPL-2.0
// The interleaving explorer: exactly-once as a tested fact. Every shim call
// the core makes and every atomic operation of kstd (the claim's
// compare-and-swap, reference counts) is a point where another CPU may run
// (fake/sched.hpp). For each scenario (a set of operations racing on one
// request) it runs every schedule with up to kBound preemptions,
// depth-first, and after each run cleans up and checks: the callback ran
// once xor cancel returned true, a failed submit ran no callback, every
// pin, fd, keyring link, module and namespace reference came back, nothing
// is left on any list and no reaper armed once a namespace exited, no
// warning (the fake's lock validator records every nested pair of lock
// classes across all scenarios and warns on a cycle). The points are not
// chosen by hand: a new shim call adds points, and the number of
// interleavings explored grows with it.
//
// A failure, a deadlock or a crash (with or without a sanitizer) names its
// scenario and schedule; TLSUP_EXPLORE_REPLAY='<scenario>@<schedule>' runs
// that one schedule again and prints it.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest-spi.h>

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

// UBSan (a runtime of its own under GCC) ends the process through abort(),
// so the explorer's SIGABRT handler names the run.
extern "C" const char *__ubsan_default_options() {
	return "abort_on_error=1:print_stacktrace=1";
}

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
	std::vector<int> fds; // accepted descriptors the agent holds
	// The agent's process keyring as it must end: linked before the run,
	// plus the keyring of every ACCEPT that went through.
	std::set<int> keyrings;
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
				keyrings.insert(r.r.keyring);
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
	// A consumer giving up: cancel, then release its socket.
	void cancel_close(int i) {
		cancel(i);
		close(i);
	}
	// Another thread of the agent closes every descriptor it has, those
	// an ACCEPT is installing included (fd numbers are predictable).
	void agent_close_all() {
		for (int fd : k.fd_numbers())
			k.close_fd(fd);
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
	// A read of /proc/net/tlsup, as kernel/shim/proc.c does it.
	void show(int n = 0, bool privileged = false) {
		fake::Net *nn = nets(n);
		nn->lock.lock();
		tlsup_core_pernet *core = nn->core;
		if (core)
			tlsup_core_pernet_get(core);
		nn->lock.unlock();
		if (core) {
			std::string out;
			tlsup_core_pernet_show(core, reinterpret_cast<tlsup_seq *>(&out),
			                       privileged);
			tlsup_core_pernet_put(core);
		}
	}
	// rmmod: refused while anything holds a module reference.
	void module_exit() {
		if (k.module_refs.load() != 0)
			return;
		fake::sched::point("module_exit");
		for (int n = 0; n < 2; n++) {
			if (!exited[n])
				netns_exit(n);
			k.release_exited(nets(n));
		}
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
			// A consumer cancels only a socket it still has.
			if (!p->c.sk->destroyed && tlsup_core_cancel(p->c.ksk()))
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
	// The namespaces are gone (their exit checked its lists): their
	// delayed work must be too, and nothing of theirs still in flight.
	for (int n = 0; n < 2; n++) {
		if (w.nets(n)->reaper_delay_ms.load() != -1)
			bad << "net" << n << ": reaper still armed after namespace exit\n";
		k.release_exited(w.nets(n));
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
	if (k.process_keyring != w.keyrings || !k.links_in_progress.empty())
		bad << "process keyring: " << k.process_keyring.size() << " links, want "
		    << w.keyrings.size() << " (pre-linked + successful ACCEPTs), "
		    << k.links_in_progress.size() << " still in progress\n";
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

// The run in progress, for a crash report.
const Run *g_run = nullptr;
const char *g_scenario = nullptr;
long g_runno = 0;

void say(const char *s) {
	if (::write(2, s, std::strlen(s)) < 0)
		return;
}

// A crash ends the process: say which scenario, run and schedule it was,
// and how to replay it. No allocation (it may run in a signal handler).
void report_run(const char *what) {
	if (!g_run)
		return;
	char head[512];
	std::snprintf(head, sizeof(head),
	              "explorer: %s in scenario \"%s\", run %ld; the schedule so far:\n", what,
	              g_scenario, g_runno);
	say(head);
	g_run->write_trace(2);
	say("explorer: replay it with TLSUP_EXPLORE_REPLAY='");
	say(g_scenario);
	say("@");
	g_run->write_key(2);
	say("' core_tests --gtest_filter='Interleavings.*'\n");
}

[[maybe_unused]] void report_run_on_death() {
	report_run("the sanitizer report above");
}

void report_run_on_signal(int sig) {
	char what[64];
	std::snprintf(what, sizeof(what), "signal %d (%s)", sig,
	              sig == SIGABRT   ? "abort"
	              : sig == SIGSEGV ? "segmentation fault"
	                               : "crash");
	report_run(what);
	std::signal(sig, SIG_DFL);
	std::raise(sig);
}

void install_crash_reports() {
#ifdef TLSUP_HAVE_ASAN
	// ASan (and UBSan with it) handles faults and calls this when it dies;
	// a plain abort() (the fake's own checks) does not go through it.
	__sanitizer_set_death_callback(report_run_on_death);
	const int sigs[] = {SIGABRT};
#else
	const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE};
#endif
	for (int sig : sigs) {
		struct sigaction sa {};
		sa.sa_handler = report_run_on_signal;
		sa.sa_flags = SA_NODEFER;
		sigaction(sig, &sa, nullptr);
	}
}

// One run of @sc under @run, numbered @runno. Returns what went wrong, or
// "" if nothing did.
std::string run_one(const Scenario &sc, Run &run, long runno) {
	auto &k = fake::Kernel::get();
	k.reset();
	fake::lockdep::set_context(std::string("scenario \"") + sc.name + "\", run " +
	                           std::to_string(runno));
	auto w = std::make_unique<World>();
	EXPECT_EQ(tlsup_core_init(), 0);
	w->net = k.new_net();
	w->net2 = k.new_net();
	k.max_pending = 8;
	sc.setup(*w);
	g_run = &run;
	g_scenario = sc.name;
	g_runno = runno;
	std::vector<std::function<void()>> ops;
	World *wp = w.get();
	for (auto &op : sc.ops)
		ops.push_back([wp, &op] { op(*wp); });
	run.execute(ops);
	if (!run.stuck().empty()) {
		// Coroutines are wedged holding locks: the world cannot be
		// cleaned up; it is kept, never touched again. (The index goes:
		// the next run makes its own.)
		g_run = nullptr;
		tlsup_core_exit();
		static auto *abandoned = new std::vector<std::unique_ptr<World>>;
		abandoned->push_back(std::move(w));
		// What it holds is not the next test's leak.
		k.live_allocs = 0;
		k.module_refs = 0;
		return run.stuck() + "\n";
	}
	std::string bad = finish(*w);
	g_run = nullptr;
	delete w->net;
	delete w->net2;
	return bad;
}

std::string failure_message(const Scenario &sc, const Run &run, long runno,
                            const std::string &bad) {
	std::ostringstream os;
	os << sc.name << ": run " << runno << " failed:\n"
	   << bad << "schedule:\n"
	   << run.describe() << "replay it with TLSUP_EXPLORE_REPLAY='" << sc.name << "@"
	   << run.key() << "' core_tests --gtest_filter='Interleavings.*'\n";
	return os.str();
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

		Run run(forced);
		const std::string bad = run_one(sc, run, ex.runs + 1);
		ex.runs++;
		ex.points += static_cast<long>(run.trace().size());
		if (!bad.empty()) {
			ADD_FAILURE() << failure_message(sc, run, ex.runs, bad);
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
	        {"accept (reply fails) vs accept, one keyring",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.add_peer(w.net);
		         w.submit(0, with_keyring(w.peer(0).c, 77));
		         w.submit(1, with_keyring(w.peer(1).c, 77));
	         },
	         {[](World &w) { w.accept(0, -ENOBUFS); }, [](World &w) { w.accept(); }}},
	        {"accept (reply fails) vs cancel, keyring linked before",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.submit(0, with_keyring(w.peer(0).c, 77));
		         w.k.process_keyring.insert(77);
		         w.keyrings.insert(77);
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
	        // Two expired, one not: the reaper re-arms for the third.
	        {"deadline vs namespace exit",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.add_peer(w.net);
		         w.add_peer(w.net);
		         accepted(w, 0, with_timeout(w.peer(0).c, 1));
		         w.submit(1, with_timeout(w.peer(1).c, 1));
		         w.submit(2, with_timeout(w.peer(2).c, 1'000'000));
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
	        // Two sockets, one of whose READY fails: the failing submit
	        // unpublishes (both locks) while the other publishes (both
	        // locks): the orders must agree.
	        {"two sockets: submit (READY fails) vs submit",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.add_peer(w.net);
		         w.net->notify_fail_op = 0;
		         w.net->notify_fail_result = -ENOMEM;
	         },
	         {[](World &w) { w.submit(0); }, [](World &w) { w.submit(1); }}},
	        // A failing ACCEPT's last look at the socket vs a consumer that
	        // cancels and then closes it: the ACCEPT's file reference must
	        // still hold it. (A consumer's cancel and its close are one
	        // sequence: it never closes a socket its own cancel is reading.)
	        {"accept (reply fails) vs consumer cancel+close",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.submit(0);
	         },
	         {[](World &w) { w.accept(0, -ENOBUFS); }, [](World &w) { w.cancel_close(0); }}},
	        // Once the descriptor is live another agent thread may close
	        // it; with the consumer gone that is the socket's end.
	        {"accept vs consumer cancel+close vs agent closing the fd",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.submit(0);
	         },
	         {[](World &w) { w.accept(); }, [](World &w) { w.cancel_close(0); },
	          [](World &w) { w.agent_close_all(); }}},
	        // A deadline armed while the namespace drains would fire in its
	        // freed memory.
	        {"submit with a timeout vs namespace exit",
	         one_peer,
	         {[](World &w) { w.submit(0, with_timeout(w.peer(0).c, 1000)); },
	          [](World &w) { w.netns_exit(0); }}},
	        {"two namespaces: submit vs submit vs exit of one",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.add_peer(w.net2);
	         },
	         {[](World &w) { w.submit(0); }, [](World &w) { w.submit(1); },
	          [](World &w) { w.netns_exit(1); }}},
	        // /proc/net/tlsup (532fbc9, 2d1491e) reads ended requests'
	        // sockets under the index lock: the socket's destruction,
	        // the request's end and the namespace's exit race the read.
	        {"proc read vs consumer close vs agent close (an ended request's socket goes)",
	         [](World &w) {
		         w.add_peer(w.net);
		         accepted(w, 0, w.peer(0).c.args());
		         w.done(w.fds[0], 0);
	         },
	         {[](World &w) { w.show(0); }, [](World &w) { w.close(0); },
	          [](World &w) { w.k.close_fd(w.fds[0]); }}},
	        {"proc read vs done vs consumer cancel+close",
	         [](World &w) {
		         w.add_peer(w.net);
		         accepted(w, 0, w.peer(0).c.args());
	         },
	         {[](World &w) { w.show(0); }, [](World &w) { w.done(w.fds[0], 0); },
	          [](World &w) { w.cancel_close(0); }}},
	        {"proc read vs reap vs namespace exit",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.add_peer(w.net);
		         accepted(w, 1, with_timeout(w.peer(1).c, 1000));
		         w.submit(0, with_timeout(w.peer(0).c, 1000));
		         w.k.now_ms += 10'000;
	         },
	         {[](World &w) { w.show(0); }, [](World &w) { w.reap(); },
	          [](World &w) { w.netns_exit(0); }}},
	        {"two namespaces: proc read of one vs submit+cancel+close in the other",
	         [](World &w) {
		         w.add_peer(w.net);
		         w.add_peer(w.net2);
		         w.submit(1);
	         },
	         {[](World &w) { w.show(0); }, [](World &w) { w.show(1); },
	          [](World &w) {
		          w.submit(0);
		          w.cancel_close(0);
	          }}},
	        {"no operation at all", nothing, {}},
	};
}

// TLSUP_EXPLORE_REPLAY='<scenario>@<schedule>': that one run, printed.
bool replay_requested(const std::vector<Scenario> &all) {
	const char *spec = std::getenv("TLSUP_EXPLORE_REPLAY");
	if (!spec)
		return false;
	const std::string s = spec;
	const size_t at = s.rfind('@');
	const std::string name = s.substr(0, at);
	const std::string key = at == std::string::npos ? "" : s.substr(at + 1);
	for (const Scenario &sc : all) {
		if (name != sc.name)
			continue;
		auto run = Run::replay(key);
		const std::string bad = run_one(sc, *run, 1);
		std::printf("replay of \"%s\" @%s (%zu decisions):\n%s", sc.name, key.c_str(),
		            run->trace().size(), run->describe().c_str());
		EXPECT_EQ(run->key(), key) << "the replay took another schedule";
		if (!bad.empty())
			ADD_FAILURE() << failure_message(sc, *run, 1, bad);
		else
			std::printf("replay: no failure\n");
		return true;
	}
	ADD_FAILURE() << "TLSUP_EXPLORE_REPLAY: no scenario named \"" << name << "\"";
	return true;
}

TEST(Interleavings, ExactlyOnceUnderEverySchedule) {
	install_crash_reports();
	const auto all = scenarios();
	if (replay_requested(all))
		return;
	long total = 0, points = 0;
	// TLSUP_EXPLORE_ONLY=text: only the scenarios whose name contains it.
	const char *only = std::getenv("TLSUP_EXPLORE_ONLY");
	for (const Scenario &sc : all) {
		if (only && !std::strstr(sc.name, only))
			continue;
		Explored ex = explore(sc);
		std::printf("  %-62s %7ld interleavings\n", sc.name, ex.runs);
		std::fflush(stdout);
		total += ex.runs;
		points += ex.points;
		if (::testing::Test::HasFailure())
			break;
	}
	std::printf("interleavings explored: %ld in %zu scenarios (preemption bound %d, "
	            "%ld scheduling points)\n",
	            total, all.size(), bound(), points);
	// Every nested pair of lock classes, across all scenarios: no cycle.
	EXPECT_EQ(fake::lockdep::report(), "");
	if (const char *out = std::getenv("TLSUP_EXPLORE_REPORT")) {
		if (FILE *f = std::fopen(out, "w")) {
			std::fprintf(f, "%ld %zu %d %ld\n", total, all.size(), bound(), points);
			std::fclose(f);
		}
	}
	EXPECT_GT(total, static_cast<long>(all.size()));
}

// The explorer's own failure reports. Death tests re-run the binary, so the
// planted failures below touch nothing the other tests see.
class InterleavingsSelfTest : public ::testing::Test {
protected:
	void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

Scenario planted(const char *name, std::function<void(World &)> op) {
	return {name,
	        [](World &w) {
		        w.add_peer(w.net);
		        w.submit(0);
	        },
	        {[](World &w) { w.cancel(0); }, std::move(op)}};
}

TEST_F(InterleavingsSelfTest, AbortNamesScenarioAndSchedule) {
	// An abort from any layer (the fake's own checks, a BUG) says where.
	EXPECT_DEATH(
	        {
		        install_crash_reports();
		        explore(planted("planted abort", [](World &w) {
			        if (!w.peer(0).cancel_true)
				        std::abort();
		        }));
	        },
	        "scenario \"planted abort\", run [0-9]+.*replay it with "
	        "TLSUP_EXPLORE_REPLAY='planted abort@");
}

TEST_F(InterleavingsSelfTest, CrashNamesScenarioAndSchedule) {
	// A fault: the sanitizer's report then the schedule, or (without
	// sanitizers) the explorer's own handler.
	EXPECT_DEATH(
	        {
		        install_crash_reports();
		        explore(planted("planted fault", [](World &w) {
			        if (!w.peer(0).cancel_true)
				        *static_cast<volatile int *>(nullptr) = 1;
		        }));
	        },
	        "scenario \"planted fault\".*TLSUP_EXPLORE_REPLAY='planted fault@");
	EXPECT_DEATH(
	        {
		        install_crash_reports();
		        explore(planted("planted use after free", [](World &w) {
			        if (!w.peer(0).cancel_true) {
				        auto *p = new int(1);
				        delete p;
				        *static_cast<volatile int *>(p) = 2;
				        std::abort(); // no ASan: an abort instead
			        }
		        }));
	        },
	        "scenario \"planted use after free\".*TLSUP_EXPLORE_REPLAY='planted use after "
	        "free@");
}

// Two operations taking two locks in opposite orders (below the lock
// validator, which would report the inversion first).
int g_lock_a, g_lock_b;

void planted_lock_pair(void *first, void *second) {
	fake::sched::Run *r = fake::sched::current();
	r->lock(first);
	fake::sched::point("between");
	r->lock(second);
	r->unlock(second);
	r->unlock(first);
}

TEST_F(InterleavingsSelfTest, DeadlockIsAFailureThatNamesScenarioAndSchedule) {
	static const Scenario sc{"planted deadlock",
	                         [](World &) {},
	                         {[](World &) { planted_lock_pair(&g_lock_a, &g_lock_b); },
	                          [](World &) { planted_lock_pair(&g_lock_b, &g_lock_a); }}};
	EXPECT_NONFATAL_FAILURE(explore(sc), "deadlock at lock (contended): op 0 waits");
	EXPECT_NONFATAL_FAILURE(explore(sc), "TLSUP_EXPLORE_REPLAY='planted deadlock@");
}

TEST_F(InterleavingsSelfTest, ReplayByKeyRunsTheSameSchedule) {
	// Every schedule of a scenario, replayed by its key, makes the same
	// decisions.
	const auto all = scenarios();
	const Scenario *sc = nullptr;
	for (const Scenario &s : all)
		if (std::string(s.name) == "accept vs cancel")
			sc = &s;
	ASSERT_NE(sc, nullptr);
	std::vector<std::vector<int>> todo{{}};
	int checked = 0;
	while (!todo.empty() && checked < 60) {
		std::vector<int> forced = std::move(todo.back());
		todo.pop_back();
		fake::sched::Run run(forced);
		ASSERT_EQ(run_one(*sc, run, 1), "");
		auto again = Run::replay(run.key());
		ASSERT_EQ(run_one(*sc, *again, 1), "");
		ASSERT_EQ(again->trace().size(), run.trace().size()) << run.key();
		for (size_t i = 0; i < run.trace().size(); i++)
			ASSERT_EQ(again->trace()[i].chosen, run.trace()[i].chosen)
			        << run.key() << " step " << i;
		checked++;
		const auto &t = run.trace();
		for (size_t i = forced.size(); i < t.size() && i < forced.size() + 3; i++)
			for (int alt : t[i].enabled)
				if (alt != t[i].chosen) {
					std::vector<int> next;
					for (size_t j = 0; j < i; j++)
						next.push_back(t[j].chosen);
					next.push_back(alt);
					todo.push_back(next);
				}
	}
	EXPECT_GE(checked, 20);
}

} // namespace
} // namespace test
