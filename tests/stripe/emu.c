/*
 * emu.c - the Stripe emulator for the C tests (see emu.h)
 *
 * The control API is driven with its own curl handle, separate from the
 * client under test, so counting the client's connections stays exact.
 * Counting uses substring matches on the emulator's JSON answers, which
 * is enough for ids and metadata values the tests choose to be unique.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "emu.h"
#include "tly_buf.h"
#include "tly_err.h"
#include "tly_str.h"

static pid_t	 emu_pid;
static char	 emu_url[128];
static CURL	*emu_curl;	/* one handle for every control call */

/* emu_start - start the emulator; its base URL goes to 'url' */
int
emu_start(char *url, size_t sz)
{
	const char *src = getenv("TALLY_SRCDIR");
	char server[512], line[256];
	int fds[2];
	FILE *f;

	snprintf(server, sizeof(server), "%s/tests/stripe-emulator/server.mjs",
	    src ? src : "..");
	if (access(server, R_OK) != 0 || system("node --version >/dev/null "
	    "2>&1") != 0)
		return EMU_SKIP;
	if (pipe(fds) != 0)
		return 1;
	emu_pid = fork();
	if (emu_pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("node", "node", server, "--port", "0", "--api-key",
		    EMU_KEY, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "stripe-emulator listening on %127s", emu_url) != 1) {
		emu_stop();
		return 1;
	}
	/* keep the pipe open: the emulator may log to it; drain on stop */
	tly_strlcpy(url, emu_url, sz);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

/* emu_stop - end the emulator */
void
emu_stop(void)
{
	int st;

	if (emu_curl) {
		curl_easy_cleanup(emu_curl);
		emu_curl = NULL;
	}
	if (emu_pid > 0) {
		kill(emu_pid, SIGTERM);
		waitpid(emu_pid, &st, 0);
		emu_pid = 0;
	}
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	return tly_buf_add(arg, p, size * n) == TLY_OK ? size * n : 0;
}

/* emu_do - one control call; the body lands in 'out'; HTTP status back */
static int
emu_do(const char *method, const char *path, const char *json, char *out,
    size_t outsz)
{
	struct curl_slist *h = NULL;
	char url[512];
	tly_buf b;
	long status = 0;
	CURL *c;

	snprintf(url, sizeof(url), "%s%s", emu_url, path);
	tly_buf_init(&b, 16 << 20);
	if (emu_curl == NULL)
		emu_curl = curl_easy_init();
	c = emu_curl;
	curl_easy_reset(c);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (json)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	if (out)
		tly_strlcpy(out, tly_buf_str(&b), outsz);
	tly_buf_free(&b);
	return (int)status;
}

/* emu_post - POST 'json' to control path 'path' */
int
emu_post(const char *path, const char *json, char *out, size_t sz)
{
	return emu_do("POST", path, json ? json : "{}", out, sz);
}

/* emu_delete - DELETE control path 'path' */
int
emu_delete(const char *path)
{
	return emu_do("DELETE", path, NULL, NULL, 0);
}

/* emu_get - GET control path 'path' */
int
emu_get(const char *path, char *out, size_t sz)
{
	return emu_do("GET", path, NULL, out, sz);
}

static int
occurrences(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* emu_count - objects of 'kind' whose JSON contains 'needle' */
int
emu_count(const char *kind, const char *needle)
{
	static char out[8 << 20];
	char path[128];

	snprintf(path, sizeof(path), "/__emu/objects/%s", kind);
	if (emu_get(path, out, sizeof(out)) != 200)
		return -1;
	return occurrences(out, needle);
}

/* emu_requests_with_key - /v1 requests the emulator saw with this key */
int
emu_requests_with_key(const char *key)
{
	static char out[8 << 20];
	char needle[300];

	if (emu_get("/__emu/requests", out, sizeof(out)) != 200)
		return -1;
	snprintf(needle, sizeof(needle), "\"%s\"", key);
	return occurrences(out, needle);
}

/* emu_connections - connections that carried /v1 calls since reset */
long
emu_connections(void)
{
	static const char k[] = "\"api_connections\":";
	char out[512], *p;

	if (emu_get("/__emu/stats", out, sizeof(out)) != 200)
		return -1;
	p = strstr(out, k);
	return p ? strtol(p + sizeof(k) - 1, NULL, 10) : -1;
}
