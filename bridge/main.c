/*
 * main.c - dipc-bridge: carries the channel operations of this host's
 * processes to the bridges of the hosts that own the channels, and does
 * theirs on this host's channels.  See dipc-bridge(8).
 *
 * Start-up refuses, with one line saying why, anything that would leave
 * the bridge open to strangers: no key pair (unless
 * --allow-unauthenticated says so), a key file others can read, trust
 * files others can write, a state segment that is not this user's.  The
 * bridge needs no privilege: it acts on channels with the rights of the
 * user it runs as, and refuses to run as root unless told (--allow-root).
 */
#include "bridge.h"
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct bridge B;

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void vlogf(const char *fmt, va_list ap)
{
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "dipc-bridge[%d]: %s\n", (int)getpid(), line);
}

void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlogf(fmt, ap);
	va_end(ap);
}

void vlog(const char *fmt, ...)
{
	if (!B.verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlogf(fmt, ap);
	va_end(ap);
}

uint64_t hash64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* ---- the queue ------------------------------------------------------------------- */

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static struct item *qhead, *qtail;
static int qfd = -1;

void q_push(struct item *it)
{
	it->next = NULL;
	pthread_mutex_lock(&qlock);
	if (qtail)
		qtail->next = it;
	else
		qhead = it;
	qtail = it;
	pthread_mutex_unlock(&qlock);
	uint64_t one = 1;
	ssize_t w = write(qfd, &one, sizeof(one));
	(void)w;
}

struct item *q_take_all(void)
{
	uint64_t n;
	ssize_t r = read(qfd, &n, sizeof(n));
	(void)r;
	pthread_mutex_lock(&qlock);
	struct item *it = qhead;
	qhead = qtail = NULL;
	pthread_mutex_unlock(&qlock);
	return it;
}

int q_fd(void)
{
	return qfd;
}

/* ---- messages from the network --------------------------------------------------- */

static void on_msg(void *arg, uint32_t conn, const void *hdr, size_t hlen, const void *payload,
		   size_t plen)
{
	(void)arg;
	struct wire w;
	if (wire_decode(hdr, hlen, &w)) {
		vlog("a malformed message from link %08x dropped", conn);
		return;
	}
	bool in = conn & TP_IN;
	switch (w.kind) {
	case W_HELLO:
	case W_PING:
		if (in) {
			struct wire a = { .kind = w.kind == W_HELLO ? W_HELLO_ACK : W_PONG,
					  .host = B.host, .incarnation = B.incarnation };
			unsigned char h[TP_HDR_MAX];
			size_t hl = wire_encode(&a, h);
			tp_send(B.tp, conn, h, hl, NULL, 0);
		}
		break;
	case W_HELLO_ACK:
	case W_PONG:
		if (!in)
			gw_peer_up(conn, w.host, w.incarnation);
		break;
	case W_REQ:
		if (in)
			own_request(conn, &w, payload, plen);
		break;
	case W_REP:
		if (!in) {
			gw_peer_up(conn, w.host, w.incarnation);
			gw_reply(conn, &w, payload, plen);
		}
		break;
	case W_HAVE:
		if (!in) {
			gw_peer_up(conn, w.host, w.incarnation);
			gw_have(conn, &w);
		}
		break;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&B.stop, true);
}

/* ---- start-up ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: dipc-bridge [options]\n"
"       dipc-bridge --keygen FILE\n"
"  -l, --listen ENDPOINT     accept other bridges (tcp://ADDRESS:PORT)\n"
"  -p, --peer ENDPOINT[=KEY] a bridge to reach (KEY: its public key; default ours)\n"
"  -P, --peers FILE          peers, one \"ENDPOINT [KEY]\" a line\n"
"  -k, --key FILE            this bridge's key pair (default $DIPC_BRIDGE_KEY,\n"
"                            then ~/.config/dipc-bridge/key)\n"
"  -a, --authorized FILE     public keys of the bridges admitted (default: our own)\n"
"      --allow-unauthenticated  run without keys: plain TCP, anyone admitted\n"
"      --allow-root          run as root (the bridge acts with its user's rights)\n"
"  -g, --gateway NAME        gateway pool name (default dipc-gw-<uid> or $DIPC_GATEWAY)\n"
"      --gateway-size BYTES  gateway pool size (default 64 MiB)\n"
"      --peer-timeout SEC    a peer silent this long is gone (default 10)\n"
"      --max-message BYTES   largest message carried (default 16 MiB)\n"
"  -v, --verbose\n"
"      --keygen FILE         write a new key pair to FILE (mode 0600), print its public key\n");
}

static char (*authorized)[TP_KEY_TEXT];
static size_t nauthorized;
static struct tp_config cfg;

struct peer_opt {
	char endpoint[256];
	char key[TP_KEY_TEXT];
};
static struct peer_opt peer_opts[64];
static unsigned npeer_opts;

static int add_peer_opt(const char *endpoint, const char *key)
{
	if (npeer_opts == 64) {
		fprintf(stderr, "dipc-bridge: too many peers\n");
		return -1;
	}
	struct peer_opt *p = &peer_opts[npeer_opts++];
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", endpoint);
	if (key)
		snprintf(p->key, sizeof(p->key), "%s", key);
	return 0;
}

static const char *default_key(void)
{
	static char path[512];
	const char *env = getenv("DIPC_BRIDGE_KEY");
	if (env && *env)
		return env;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && *xdg)
		snprintf(path, sizeof(path), "%s/dipc-bridge/key", xdg);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/.config/dipc-bridge/key", home);
	else
		return NULL;
	return access(path, F_OK) == 0 ? path : NULL;
}

/* This host's id as the library writes it in descriptors. */
static uint64_t host_of_pool(dipc_pool *p)
{
	unsigned char ser[DIPC_SERIAL_MAX];
	int n = dipc_pool_serialize(p, ser, sizeof(ser));
	return n >= 16 ? wire_get64(ser + 8) : 0;
}

int main(int argc, char **argv)
{
	enum { O_PLAIN = 256, O_ROOT, O_GWSIZE, O_PEERTO, O_MAXMSG, O_KEYGEN };
	static const struct option opts[] = {
		{ "listen", required_argument, 0, 'l' },
		{ "peer", required_argument, 0, 'p' },
		{ "peers", required_argument, 0, 'P' },
		{ "key", required_argument, 0, 'k' },
		{ "authorized", required_argument, 0, 'a' },
		{ "allow-unauthenticated", no_argument, 0, O_PLAIN },
		{ "allow-root", no_argument, 0, O_ROOT },
		{ "gateway", required_argument, 0, 'g' },
		{ "gateway-size", required_argument, 0, O_GWSIZE },
		{ "peer-timeout", required_argument, 0, O_PEERTO },
		{ "max-message", required_argument, 0, O_MAXMSG },
		{ "keygen", required_argument, 0, O_KEYGEN },
		{ "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 }
	};
	const char *listen = NULL, *keyfile = NULL, *authfile = NULL;
	const char *peersfiles[16];
	unsigned npeersfiles = 0;
	bool allow_plain = false, allow_root = false;
	double peer_timeout = 10;
	B.gateway_size = 64u << 20;
	cfg.max_msg = 16u << 20;
	int c;
	while ((c = getopt_long(argc, argv, "l:p:P:k:a:g:vh", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'l': listen = optarg; break;
		case 'p': {
			char *eq = strchr(optarg, '=');
			if (eq)
				*eq = 0;
			if ((eq && !tp_key_ok(eq + 1))) {
				fprintf(stderr, "dipc-bridge: --peer %s: not a public key\n", optarg);
				return 2;
			}
			if (add_peer_opt(optarg, eq ? eq + 1 : NULL))
				return 2;
			break;
		}
		case 'P':
			if (npeersfiles < 16)
				peersfiles[npeersfiles++] = optarg;
			break;
		case 'k': keyfile = optarg; break;
		case 'a': authfile = optarg; break;
		case 'g': snprintf(B.gateway, sizeof(B.gateway), "%s", optarg); break;
		case 'v': B.verbose = true; break;
		case O_PLAIN: allow_plain = true; break;
		case O_ROOT: allow_root = true; break;
		case O_GWSIZE:
			B.gateway_size = strtoull(optarg, &end, 0);
			if (*end || B.gateway_size < DIPC_POOL_MIN_SIZE) {
				fprintf(stderr, "dipc-bridge: --gateway-size: a byte count of 1 MiB or more\n");
				return 2;
			}
			break;
		case O_PEERTO:
			peer_timeout = strtod(optarg, &end);
			if (*end || peer_timeout <= 0) {
				fprintf(stderr, "dipc-bridge: --peer-timeout: seconds, more than 0\n");
				return 2;
			}
			break;
		case O_MAXMSG:
			cfg.max_msg = strtoull(optarg, &end, 0);
			if (*end || cfg.max_msg == 0) {
				fprintf(stderr, "dipc-bridge: --max-message: a byte count\n");
				return 2;
			}
			break;
		case O_KEYGEN:
			return keys_write_pair(optarg) ? 1 : 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (geteuid() == 0 && !allow_root) {
		fprintf(stderr, "dipc-bridge: refusing to run as root: it acts on channels with its "
			"user's rights (--allow-root to run so anyway)\n");
		return 1;
	}
	B.peer_timeout_ns = (int64_t)(peer_timeout * 1e9);
	if (!B.gateway[0]) {
		const char *env = getenv(GW_ENV);
		if (env && *env)
			snprintf(B.gateway, sizeof(B.gateway), "%s", env);
		else
			snprintf(B.gateway, sizeof(B.gateway), GW_NAME_PREFIX "%u", (unsigned)getuid());
	}

	/* Keys first: nothing listens or dials before they are settled. */
	if (!keyfile)
		keyfile = default_key();
	if (keyfile) {
		if (keys_load_pair(keyfile, cfg.public_key, cfg.secret_key))
			return 1;
		if (authfile && keys_load_list(authfile, &authorized, &nauthorized))
			return 1;
		if (!authfile) {
			/* One key pair shared by the user's hosts. */
			authorized = calloc(1, TP_KEY_TEXT);
			if (!authorized)
				return 1;
			memcpy(authorized[0], cfg.public_key, TP_KEY_TEXT);
			nauthorized = 1;
		}
	} else if (!allow_plain) {
		fprintf(stderr, "dipc-bridge: no key pair (--key FILE, $DIPC_BRIDGE_KEY or "
			"~/.config/dipc-bridge/key; make one with --keygen): refusing to run "
			"unauthenticated (--allow-unauthenticated to do so anyway)\n");
		return 1;
	} else {
		fprintf(stderr, "dipc-bridge: WARNING: no keys: links are plain TCP and any host "
			"that reaches the listening address may use this user's channels\n");
	}
	for (unsigned i = 0; i < npeersfiles; i++)
		if (keys_load_peers(peersfiles[i], add_peer_opt))
			return 1;
	cfg.allow_plain = !keyfile;
	B.max_msg = cfg.max_msg;
	cfg.authorized = (const char (*)[TP_KEY_TEXT])authorized;
	cfg.nauthorized = nauthorized;

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	qfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (qfd < 0) {
		perror("dipc-bridge: eventfd");
		return 1;
	}
	int urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (urandom < 0 || read(urandom, &B.incarnation, sizeof(B.incarnation)) != 8) {
		perror("dipc-bridge: /dev/urandom");
		return 1;
	}
	close(urandom);

	/* The state segment's lock says that no other bridge runs for this
	 * gateway; a live bridge's gateway is never taken over. */
	if (state_open(B.gateway))
		return 1;
	if (tp_open(&cfg, &B.tp)) {
		fprintf(stderr, "dipc-bridge: cannot start the network engine\n");
		return 1;
	}
	if (listen && tp_listen(B.tp, listen)) {
		fprintf(stderr, "dipc-bridge: %s\n", tp_error(B.tp));
		return 1;
	}
	if (gw_start())
		return 1;
	B.host = host_of_pool(B.gwpool);
	for (unsigned i = 0; i < npeer_opts; i++)
		if (gw_add_peer(peer_opts[i].endpoint,
				peer_opts[i].key[0] ? peer_opts[i].key : cfg.public_key))
			return 1;
	own_start();
	logmsg("running: gateway %s, host %016llx%s%s, %u peer%s, %s", B.gateway,
	       (unsigned long long)B.host, listen ? ", listening on " : "", listen ? listen : "",
	       npeer_opts, npeer_opts == 1 ? "" : "s",
	       keyfile ? "CURVE authentication" : "NO authentication");

	uint64_t last_tick = 0;
	int wake[2] = { qfd, gw_bell_fd() };
	bool more = false;
	while (!atomic_load(&B.stop)) {
		int r = tp_run(B.tp, wake, wake[1] >= 0 ? 2 : 1, more ? 0 : 50, on_msg, NULL);
		if (r < 0) {
			logmsg("network: %s", tp_error(B.tp));
			break;
		}
		uint64_t now = now_ns();
		bool tick = now - last_tick >= 50ull * 1000 * 1000;
		if ((r & 2) || more || tick)
			more = gw_pull(r & 2);
		if (r & 1) {
			for (struct item *it = q_take_all(), *next; it; it = next) {
				next = it->next;
				if (it->kind == IT_REQUEST) {
					gw_request(it);
				} else {
					own_result(it);
					free(it);
				}
			}
		}
		if (tick) {
			last_tick = now;
			gw_tick();
			own_tick();
		}
	}
	logmsg("stopping");
	own_stop();
	gw_stop();
	tp_close(B.tp);
	state_lock();
	bool empty = state_used() == 0;
	state_unlock();
	state_close(empty);
	return 0;
}
