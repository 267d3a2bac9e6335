/* cli: what every command shares (cli.h): the exit code of a scheduler error. In the library, not in
 * main.c, so that the commands' helpers link into the tests too. */
#include "cli.h"

int cli_exit(sched_err_t e)
{
    switch (e) {
    case SCHED_OK: return CLI_EXIT_OK;
    case SCHED_E_INPUT:
    case SCHED_E_NOTFOUND:
    case SCHED_E_STATE: return CLI_EXIT_BAD_INPUT;
    default: return CLI_EXIT_FAILED;
    }
}
