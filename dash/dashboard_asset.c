/*
** dash/dashboard_asset.c -- dash/dashboard.html compiled into the binary.
**
** The page served at GET /dashboard is kept as an ordinary HTML file so it
** can be read, diffed and opened by hand; the assembler's .incbin copies
** its bytes into .rodata at build time, followed by one NUL.  No generator
** is needed (xxd is not part of build-essential), and the file is a .c so
** every build of the library sources -- the sanitizer build and the fuzz
** targets, which compile the .c files directly -- gets it.  The path is
** relative to the repository root, where make runs; the Makefile names the
** HTML as a prerequisite of this object (the compiler's -MMD cannot see
** inside .incbin).
*/
#include <stddef.h>

#include "dash.h"

/* ns_dashboard_html_len is a .quad: size_t is 8 bytes on the x86-64
** targets the build supports (the static assert below says so). */
_Static_assert(sizeof(size_t) == 8, "ns_dashboard_html_len is emitted as a .quad");

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".globl ns_dashboard_html\n"
        ".type ns_dashboard_html, @object\n"
        "ns_dashboard_html:\n"
        ".incbin \"dash/dashboard.html\"\n"
        ".Lns_dashboard_html_end:\n"
        ".byte 0\n"
        ".size ns_dashboard_html, . - ns_dashboard_html\n"
        ".balign 8\n"
        ".globl ns_dashboard_html_len\n"
        ".type ns_dashboard_html_len, @object\n"
        "ns_dashboard_html_len:\n"
        ".quad .Lns_dashboard_html_end - ns_dashboard_html\n"
        ".size ns_dashboard_html_len, 8\n"
        ".previous\n");
