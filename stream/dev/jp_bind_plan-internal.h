/*
 * jp_bind_plan-internal: the dev broker's fixed ports (dev room only; see
 * jp_bind_plan.c for why bind(2) is interposed and why that is inert in
 * every other use of the binary).
 */
#ifndef JP_BIND_PLAN_INTERNAL_H
#define JP_BIND_PLAN_INTERNAL_H

/* Until jp_bind_plan_disarm, binds of IPv4 sockets to port 0 made by the
 * calling thread get first_port, first_port + 1, ... (first_port > 0). */
void jp_bind_plan_arm(int first_port);
void jp_bind_plan_disarm(void);

#endif
