/* Keeping secrets out of the process's argument vector, and the start-up warnings
 * about secrets. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "config/dburl.h"
#include "log/log.h"

void cli_hide_password(char *arg)
{
	size_t off, len;
	if (!arg || !db_url_password_span(arg, &off, &len))
		return;
	/* "***" when it fits, else as many '*' as the password had (1 or 2): the text
	 * of /proc/PID/cmdline cannot grow. The tail moves left and the freed bytes
	 * become NULs, which ps shows as trailing blanks. */
	size_t stars = len < 3 ? len : 3;
	size_t total = strlen(arg);
	memset(arg + off, '*', stars);
	memmove(arg + off + stars, arg + off + len, total - off - len + 1);
	memset(arg + total - (len - stars), '\0', len - stars);
}

void cli_secret_warnings(const struct dagproc_config *cfg)
{
	char *w = config_exposure_warning(cfg);
	if (w) {
		log_warn("%s", w);
		free(w);
	}
}
