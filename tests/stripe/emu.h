/*
 * emu.h - the Stripe emulator for the C tests: start it, drive its
 * control API (/__emu/…), count what it holds.
 *
 * emu_start() runs `node tests/stripe-emulator/server.mjs --port 0` and
 * reads the URL from its first line; it returns 77 (automake's SKIP) when
 * node or the emulator is not there.  emu_stop() ends it.
 */
#ifndef TLY_TEST_EMU_H
#define TLY_TEST_EMU_H

#include <stddef.h>
#include <stdint.h>

#define EMU_SKIP	77
#define EMU_KEY		"sk_test_tally_c_tests"

int	 emu_start(char *, size_t);
void	 emu_stop(void);
int	 emu_post(const char *, const char *, char *, size_t);
int	 emu_get(const char *, char *, size_t);
int	 emu_delete(const char *);
int	 emu_count(const char *, const char *);
int	 emu_requests_with_key(const char *);
long	 emu_connections(void);

#endif
