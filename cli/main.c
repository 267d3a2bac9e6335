/* llmaj: the command-line entry point; dispatches to cmd_*.c (see cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command_t;

static const command_t commands[] = {
    {"run", cmd_run, "run a job on this machine (embedded scheduler, broker and workers)"},
    {"sync", cmd_sync, "sync a finished job's results to MLflow (resumes where it stopped)"},
    {"list", cmd_list, "list the jobs in a job database, newest first"},
    {"status", cmd_status, "show a job's state, steps, counts, timings and MLflow sync"},
    {"results", cmd_results, "show a job's results, a page of (record, target) rows at a time"},
    {"evaluate", cmd_evaluate, "submit a job to a scheduler service; prints its id"},
    {"wait", cmd_wait, "wait for a job to end, with its progress; then its summary (exit status as run)"},
    {"stop", cmd_stop, "stop a job: no new model call starts; what it committed is kept"},
    {"retry", cmd_retry, "rerun the cells of an ended job that ended in error, in place"},
    {"report", cmd_report, "show a job's summary tables, or write them as a self-contained HTML page (--html)"},
    {"keygen", cmd_keygen, "write a CURVE key pair (NAME.key, NAME.secret) for the fleet's hosts"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f,
            "\nWith --scheduler URL (or LLMAJ_SCHEDULER; token in LLMAJ_TOKEN) the job commands talk to a scheduler\n"
            "service; without it they read the local job database.\n"
            "`llmaj <command> --help` shows a command's options. `llmaj --version` prints the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("llmaj %s\n", LLMAJ_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "llmaj: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_BAD_INPUT;
}
