/* standin.h: the plumbing shared by the unit tests that drive llm_call against a stand-in HTTP
 * server in their own process (libmicrohttpd on a free 127.0.0.1 port). Header-only.
 *
 * Server side: on_request collects each request's body into a sreq_t, then hands the whole
 * request to `respond`, which the including test defines (its scripted answers); on_completed
 * frees the sreq_t. Start the daemon with
 *     MHD_start_daemon(..., on_request, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, ...)
 * Client side: a slot_t keeps one call's reply (on_done is the llm_call callback, slot_free
 * empties it), drain runs the loop until the client has nothing pending. Not here: the answers,
 * the requests each test sends, and what they assert. */
#ifndef LLMAJ_TESTS_STANDIN_H
#define LLMAJ_TESTS_STANDIN_H

#include "buf.h"
#include "llm.h"
#include "loop.h"
#include "mem.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the stand-in server ---- */

typedef struct {
    buf_t body;
} sreq_t;

/* Defined by the including test: answers one whole request (its body in rq->body). */
static enum MHD_Result respond(struct MHD_Connection *conn, const char *url, const char *method, sreq_t *rq);

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    (void)cls;
    (void)version;
    sreq_t *rq = *ctx;
    if (!rq) {
        rq = xcalloc(1, sizeof(*rq));
        buf_init(&rq->body, 1 << 20);
        *ctx = rq;
        return MHD_YES;
    }
    if (*upload_size) {
        if (buf_append(&rq->body, upload, *upload_size) < 0) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    return respond(conn, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    sreq_t *rq = *ctx;
    if (!rq) return;
    buf_free(&rq->body);
    free(rq);
    *ctx = NULL;
}

/* ---- the client side ---- */

typedef struct {
    int done; /* callbacks seen: exactly 1 once answered */
    llm_status_t status;
    char *text;
    size_t text_len;
    char *structured;
    usage_t usage;
    uint32_t attempts;
    long http;
    char *error;
    double latency_ms;
} slot_t;

/* llm_call's callback: arg is the slot_t to fill (copies of the text and the error). */
static void on_done(const llm_reply_t *r, void *arg)
{
    slot_t *s = arg;
    s->done++;
    s->status = r->status;
    free(s->text);
    free(s->error);
    s->text = r->text ? xstrndup(r->text, r->text_len) : NULL;
    free(s->structured);
    s->structured = r->structured ? xstrndup(r->structured, r->structured_len) : NULL;
    s->text_len = r->text_len;
    s->usage = r->usage;
    s->attempts = r->attempts;
    s->http = r->http_status;
    s->error = r->error ? xstrdup(r->error) : NULL;
    s->latency_ms = r->latency_ms;
}

static void slot_free(slot_t *s)
{
    free(s->text);
    free(s->structured);
    free(s->error);
    memset(s, 0, sizeof(*s));
}

/* Runs the loop until the client has nothing pending (or 120 s pass: a failure). */
static int drain(loop_t *loop, llm_client_t *c)
{
    int64_t deadline = loop_now_ms() + 120000;
    while (llm_pending(c) > 0 && loop_now_ms() < deadline) loop_run_once(loop, 50);
    return llm_pending(c) == 0 ? 0 : -1;
}

/* s is set and contains needle. */
static bool contains(const char *s, const char *needle) { return s && strstr(s, needle); }

#endif
