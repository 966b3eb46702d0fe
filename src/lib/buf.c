/* buf.c: a growing, NUL-terminated byte string. */
#include <stdlib.h>
#include <string.h>

#include "ms.h"

void
ms_buf_add(struct ms_buf *b, const void *s, size_t n)
{
	size_t want;
	char *np;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		want = b->cap ? b->cap : 256;
		while (want < b->len + n + 1)
			want *= 2;
		if ((np = realloc(b->p, want)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = want;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}
