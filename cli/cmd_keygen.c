/* llmaj keygen: makes a CURVE key pair for the fleet (DESIGN.md "Secure on a network"):
 * NAME.key, the public key to hand out (the broker's to its peers, a peer's into the broker's
 * --curve-clients folder), and NAME.secret, the secret key (mode 0600) that stays with its owner.
 * The keys themselves are never printed. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "curve.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: llmaj keygen NAME [--force]\n"
               "\n"
               "Writes a new CURVE key pair: NAME.key (the public key, Z85) and NAME.secret (the secret\n"
               "key, Z85, mode 0600). NAME may include a folder (keys/broker). An existing file is never\n"
               "replaced unless --force is given.\n"
               "\n"
               "  broker:             llmaj-broker --curve-secret broker.secret --curve-clients DIR\n"
               "                      (DIR holds the *.key files of the workers and schedulers allowed in)\n"
               "  worker, scheduler:  --curve-secret worker.secret --curve-broker-key broker.key\n"
               "\n"
               "exit status: 0 written, 1 the files could not be written, 2 bad arguments\n");
}

int cmd_keygen(int argc, char **argv)
{
    bool force = false;
    static const struct option longopts[] = {{"force", no_argument, 0, 'f'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': force = true; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_BAD_INPUT;
        }
    }
    if (optind != argc - 1 || !argv[optind][0]) {
        fprintf(stderr, "llmaj keygen: %s\n", optind >= argc ? "give the NAME of the key pair" : "one NAME only");
        usage(stderr);
        return CLI_EXIT_BAD_INPUT;
    }
    const char *name = argv[optind];
    curve_keys_t k;
    if (curve_keygen(&k) < 0) {
        fprintf(stderr, "llmaj keygen: this libzmq has no CURVE support (built without libsodium?)\n");
        return CLI_EXIT_FAILED;
    }
    char err[4400];
    int rc = curve_write_pair(name, &k, force, err, sizeof err);
    curve_wipe(&k);
    if (rc < 0) {
        fprintf(stderr, "llmaj keygen: %s\n", err);
        return CLI_EXIT_FAILED;
    }
    printf("wrote %s.key (public: give it to the other side) and %s.secret (secret, mode 0600: keep it here)\n", name,
           name);
    return CLI_EXIT_OK;
}
