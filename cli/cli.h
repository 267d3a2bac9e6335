/* cli: the `llmaj` command. Each subcommand is one function in its own file (cmd_<name>.c)
 * taking the arguments after the subcommand name. Exit codes (DESIGN.md "CLI"): 0 succeeded,
 * 1 the job failed, 2 bad input (spec, dataset, flags). */
#ifndef LLMAJ_CLI_H
#define LLMAJ_CLI_H

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_BAD_INPUT 2

int cmd_run(int argc, char **argv);    /* llmaj run --spec FILE [flags] */
int cmd_sync(int argc, char **argv);   /* llmaj sync ...: (re)sync a finished job to MLflow */

#endif
