/*
 * reader.c: a card reader through libnfc.
 *
 * Polling is done with one InListPassiveTarget per technology
 * (nfc_initiator_select_passive_target) with the chip told to give up
 * after a few activation attempts (NP_INFINITE_SELECT off), so every call
 * comes back promptly with a card or none, and msid itself decides how
 * long to sleep between polls.  InAutoPoll (nfc_initiator_poll_target)
 * would block inside libnfc with no way to stop on a signal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msid.h"

int
reader_init(struct reader *rd, const char *connstring, int techs)
{
	memset(rd, 0, sizeof(*rd));
	rd->connstring = connstring;
	rd->techs = techs;
	nfc_init(&rd->ctx);
	return rd->ctx == NULL ? -1 : 0;
}

void
reader_fini(struct reader *rd)
{
	reader_close(rd);
	if (rd->ctx != NULL)
		nfc_exit(rd->ctx);
	rd->ctx = NULL;
}

const char *
reader_label(const struct reader *rd)
{
	const char *env;

	if (rd->connstring != NULL)
		return rd->connstring;
	if ((env = getenv("LIBNFC_DEVICE")) != NULL && *env != '\0')
		return env;
	return "libnfc's default device";
}

static int
supports(const nfc_modulation_type *list, nfc_modulation_type t)
{
	for (; list != NULL && *list != 0; list++)
		if (*list == t)
			return 1;
	return 0;
}

int
reader_open(struct reader *rd, char *err, size_t errlen)
{
	const nfc_modulation_type *mts = NULL;
	int r;

	reader_close(rd);
	if ((rd->dev = nfc_open(rd->ctx, rd->connstring)) == NULL) {
		SET_ERR("cannot open %s", reader_label(rd));
		return -1;
	}
	if ((r = nfc_initiator_init(rd->dev)) < 0 ||
	    (r = nfc_device_set_property_bool(rd->dev, NP_INFINITE_SELECT,
	    false)) < 0) {
		SET_ERR("%s: initialising: %s", reader_label(rd),
		    nfc_strerror(rd->dev));
		reader_close(rd);
		return -1;
	}
	if (nfc_device_get_supported_modulation(rd->dev, N_INITIATOR, &mts) < 0)
		mts = NULL;
	rd->nmods = 0;
	if ((rd->techs & TECH_A) && supports(mts, NMT_ISO14443A))
		rd->mods[rd->nmods++] = (nfc_modulation){ NMT_ISO14443A, NBR_106 };
	if ((rd->techs & TECH_F) && supports(mts, NMT_FELICA)) {
		rd->mods[rd->nmods++] = (nfc_modulation){ NMT_FELICA, NBR_212 };
		rd->mods[rd->nmods++] = (nfc_modulation){ NMT_FELICA, NBR_424 };
	}
	if ((rd->techs & TECH_B) && supports(mts, NMT_ISO14443B))
		rd->mods[rd->nmods++] = (nfc_modulation){ NMT_ISO14443B, NBR_106 };
	else if ((rd->techs & TECH_B) && !rd->warned_b) {
		ms_warnx("%s: reader does not support ISO14443B; not polled",
		    reader_label(rd));
		rd->warned_b = 1;
	}
	if (rd->nmods == 0) {
		SET_ERR("%s: reader supports none of the card types asked for",
		    reader_label(rd));
		reader_close(rd);
		return -1;
	}
	return 0;
}

void
reader_close(struct reader *rd)
{
	if (rd->dev != NULL)
		nfc_close(rd->dev);
	rd->dev = NULL;
}

int
reader_token(const nfc_target *nt, char *buf, size_t len)
{
	switch (nt->nm.nmt) {
	case NMT_ISO14443A:
		return ms_card_make(buf, len, "iso14443a", nt->nti.nai.abtUid,
		    nt->nti.nai.szUidLen);
	case NMT_FELICA:
		return ms_card_make(buf, len, "felica", nt->nti.nfi.abtId, 8);
	case NMT_ISO14443B:
		return ms_card_make(buf, len, "iso14443b", nt->nti.nbi.abtPupi, 4);
	default:
		return -1;
	}
}

int
reader_scan(struct reader *rd, nfc_target *nt, char *plain, size_t len,
    char *err, size_t errlen)
{
	int r;

	for (size_t i = 0; i < rd->nmods; i++) {
		memset(nt, 0, sizeof(*nt));
		r = nfc_initiator_select_passive_target(rd->dev, rd->mods[i],
		    NULL, 0, nt);
		if (r == 0)
			continue;
		if (r < 0) {
			SET_ERR("%s", nfc_strerror(rd->dev));
			return READ_ERROR;
		}
		if (reader_token(nt, plain, len) == -1) {
			/* a UID of a length no token allows: not ours */
			nfc_initiator_deselect_target(rd->dev);
			continue;
		}
		return READ_CARD;
	}
	return READ_NONE;
}

/* Select the same card again; for cards libnfc cannot ping. */
static int
reselect(struct reader *rd, const nfc_target *nt, char *err, size_t errlen)
{
	nfc_target again;
	char a[MS_CARD_MAX], b[MS_CARD_MAX];
	const uint8_t *init = NULL;
	size_t initlen = 0;
	int r;

	if (nt->nm.nmt == NMT_ISO14443A) {
		init = nt->nti.nai.abtUid;
		initlen = nt->nti.nai.szUidLen;
	}
	memset(&again, 0, sizeof(again));
	r = nfc_initiator_select_passive_target(rd->dev, nt->nm, init, initlen,
	    &again);
	if (r < 0) {
		SET_ERR("%s", nfc_strerror(rd->dev));
		return READ_ERROR;
	}
	if (r == 0 || reader_token(nt, a, sizeof(a)) == -1 ||
	    reader_token(&again, b, sizeof(b)) == -1 || strcmp(a, b) != 0)
		return READ_NONE;
	return READ_CARD;
}

int
reader_present(struct reader *rd, const nfc_target *nt, char *err,
    size_t errlen)
{
	int r;

	r = nfc_initiator_target_is_present(rd->dev, nt);
	switch (r) {
	case NFC_SUCCESS:
		return READ_CARD;
	case NFC_ETGRELEASED:
	case NFC_ERFTRANS:
	case NFC_EMFCAUTHFAIL:
		return READ_NONE;
	case NFC_EDEVNOTSUPP:
	case NFC_ENOTIMPL:
	case NFC_EINVARG:
		return reselect(rd, nt, err, errlen);
	default:
		SET_ERR("%s", nfc_strerror(rd->dev));
		return READ_ERROR;
	}
}
