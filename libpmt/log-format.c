#include <string.h>
#include <strings.h>

#include "log-format.h"

static const char *const kind_names[PMT_KIND_COUNT] = {
	[PMT_CALL] = "CALL",	 [PMT_EXCEPTION] = "EXCEPT",	 [PMT_LINE] = "LINE",
	[PMT_RETURN] = "RETURN", [PMT_C_CALL] = "C_CALL",	 [PMT_C_EXCEPTION] = "C_EXCEPT",
	[PMT_C_RETURN] = "C_RETURN", [PMT_OPCODE] = "OPCODE",
};

const char *pmt_kind_name(unsigned kind)
{
	return kind < PMT_KIND_COUNT ? kind_names[kind] : "?";
}

int pmt_kind_parse(const char *s, unsigned len)
{
	for (unsigned k = 0; k < PMT_KIND_COUNT; k++)
		if (strlen(kind_names[k]) == len && !strncasecmp(kind_names[k], s, len))
			return (int)k;
	if (len == 9 && !strncasecmp(s, "EXCEPTION", 9))
		return PMT_EXCEPTION;
	if (len == 11 && !strncasecmp(s, "C_EXCEPTION", 11))
		return PMT_C_EXCEPTION;
	return -1;
}
