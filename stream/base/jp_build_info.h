/*
 * Build identity, generated at build time by cmake/build_info.cmake.
 */
#ifndef JP_BUILD_INFO_H
#define JP_BUILD_INFO_H

extern const char jp_build_version[]; /* project version, e.g. "0.1.0" */
extern const char jp_build_commit[];  /* short git commit, "-dirty" suffix if modified */

#endif
