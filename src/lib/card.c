/* card.c: card tokens, keyed tokens and secret files. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ms.h"

static const struct tech {
	const char	*name;
	size_t		 minbytes, maxbytes;
} techs[] = {
	{ "iso14443a", 4, 10 },	/* 4-, 7- and 10-byte UIDs */
	{ "iso14443b", 4, 4 },	/* PUPI */
	{ "felica", 8, 8 },	/* IDm */
	{ "hmac", 32, 32 },	/* HMAC-SHA256 */
};

static int
upper_hex(const char *s, size_t *n)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return -1;
	*n = i;
	return 0;
}

int
ms_card_valid(const char *tok, char *err, size_t errlen)
{
	const char *colon;
	size_t techlen, hexlen;

	if (tok == NULL || (colon = strchr(tok, ':')) == NULL) {
		SET_ERR("card token must be \"tech:value\"");
		return -1;
	}
	if (strlen(tok) >= MS_CARD_MAX) {
		SET_ERR("card token longer than %d bytes", MS_CARD_MAX - 1);
		return -1;
	}
	techlen = (size_t)(colon - tok);
	if (techlen == 4 && strncmp(tok, "line", 4) == 0) {
		const unsigned char *p = (const unsigned char *)colon + 1;

		if (*p == '\0') {
			SET_ERR("line: token is empty");
			return -1;
		}
		for (; *p; p++)
			if (*p < 0x20 || *p == 0x7f) {
				SET_ERR("line: token has a control character");
				return -1;
			}
		return 0;
	}
	for (size_t i = 0; i < sizeof(techs) / sizeof(techs[0]); i++) {
		if (strlen(techs[i].name) != techlen ||
		    strncmp(tok, techs[i].name, techlen) != 0)
			continue;
		if (upper_hex(colon + 1, &hexlen) == -1) {
			SET_ERR("%s: token must be upper-case hex", techs[i].name);
			return -1;
		}
		if (hexlen % 2 != 0 || hexlen / 2 < techs[i].minbytes ||
		    hexlen / 2 > techs[i].maxbytes ||
		    (techs[i].minbytes == 4 && techs[i].maxbytes == 10 &&
		    hexlen / 2 != 4 && hexlen / 2 != 7 && hexlen / 2 != 10)) {
			SET_ERR("%s: token has a bad length (%zu hex digits)",
			    techs[i].name, hexlen);
			return -1;
		}
		return 0;
	}
	SET_ERR("unknown card technology \"%.*s\"", (int)(techlen > 32 ? 32 : techlen), tok);
	return -1;
}

int
ms_card_make(char *buf, size_t len, const char *tech, const uint8_t *uid,
    size_t uidlen)
{
	size_t n = strlen(tech);

	if (n + 1 + uidlen * 2 + 1 > len)
		return -1;
	memcpy(buf, tech, n);
	buf[n++] = ':';
	for (size_t i = 0; i < uidlen; i++) {
		snprintf(buf + n, 3, "%02X", uid[i]);
		n += 2;
	}
	buf[n] = '\0';
	return ms_card_valid(buf, NULL, 0);
}

int
ms_hmac_sha256_hex(const void *key, size_t keylen, const void *data,
    size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &mdlen) == NULL ||
	    mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02X", md[i]);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

int
ms_card_hmac(char *buf, size_t len, const uint8_t *key, size_t keylen,
    const char *plain_token)
{
	char hex[65];

	if (len < 5 + 64 + 1 ||
	    ms_hmac_sha256_hex(key, keylen, plain_token, strlen(plain_token), hex))
		return -1;
	snprintf(buf, len, "hmac:%s", hex);
	return 0;
}

int
ms_read_secret(const char *path, char **out, size_t *outlen, char *err,
    size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		SET_ERR("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		SET_ERR("%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		SET_ERR("%s: readable by group or others (mode %03o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	if (st.st_size > 64 * 1024) {
		SET_ERR("%s: larger than 64 KiB", path);
		close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		SET_ERR("%s: out of memory", path);
		close(fd);
		return -1;
	}
	while (len < (size_t)st.st_size &&
	    (n = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)n;
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		SET_ERR("%s: empty", path);
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

void
ms_secret_free(char *secret, size_t len)
{
	if (secret == NULL)
		return;
	OPENSSL_cleanse(secret, len);
	free(secret);
}
