/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* criterion's eq(str, ...) takes char *, while -Wwrite-strings makes string literals const.
 * Every test file that compares strings includes this after criterion's headers; gcc and clang
 * name the resulting warning differently, so each compiler silences only its own. */
#ifndef MMSG_TEST_CR_LITERALS_H
#define MMSG_TEST_CR_LITERALS_H

#pragma GCC diagnostic ignored "-Wcast-qual"
#ifdef __clang__
#pragma clang diagnostic ignored "-Wincompatible-pointer-types-discards-qualifiers"
#else
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"
#endif

#endif
