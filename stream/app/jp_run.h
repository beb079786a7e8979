/*
 * jp_run: the engine with its admin HTTP server and signal handling, as
 * `jackpot run` and `jackpot dev` both start it.
 */
#ifndef JP_RUN_H
#define JP_RUN_H

#include "alerts/jp_alerts.h"
#include "config/jp_config.h"
#include "engine/jp_engine.h"

typedef struct jp_run_opts_s {
    int dev_mode;            /* allow running without a PII key file */
    const char *state_dir;   /* NULL: cfg->state.dir */
    const char *http_listen; /* NULL: cfg->http.listen */
    int reset_state;         /* discard a state directory of another cluster */
    void *ctx;
    /* Called once the processors exist, before the engine runs (alerts is
     * NULL when alerts.enabled is false): `jackpot dev` listens to them. */
    void (*on_processors)(void *ctx, jp_alerts_t *alerts);
    /* Called on the engine thread once the engine and admin server are up. */
    void (*on_ready)(void *ctx, jp_engine_t *engine, int admin_port);
    /* Called from the signal thread on SIGINT/SIGTERM, before the engine
     * is asked to stop (its processors still hold their state). */
    void (*on_signal)(void *ctx);
    /* Called after the engine stopped, before it is freed. */
    void (*on_exit)(void *ctx, jp_engine_t *engine);
    /* Receives the capability rooms (app/jp_compose.h: the learning loop,
     * NULL when models.enabled is false, and the decisions) before
     * on_ready; valid until jp_run_engine returns (after on_exit). */
    struct jp_compose_s **compose_out;
} jp_run_opts_t;

/* Blocks the signals jp_run_engine handles (INT, TERM, HUP, USR1) in the
 * calling thread. Call it before starting any thread (threads inherit the
 * mask), so that the signal thread is the only one to receive them. */
int jp_run_block_signals(void);

/* Runs until stopped; returns the process exit code. */
int jp_run_engine(const jp_config_t *cfg, const jp_run_opts_t *opts);

#endif
