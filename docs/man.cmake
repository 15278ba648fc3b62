# SPDX-License-Identifier: LGPL-2.1-or-later
# cmake -DIN=docs/X.md -DOUT=build/X.N -DNAME=mmsgate-x -DSECTION=N -DVERSION=V -DMD2MAN=go-md2man
#   -P man.cmake
# One man page from one docs/*.md: the Markdown's first heading becomes the .TH title line
# (go-md2man reads a pandoc "%" title block), everything else is converted as it is, so the
# repository's docs and the installed pages never diverge.
file(READ "${IN}" text)
string(FIND "${text}" "\n" eol)
string(SUBSTRING "${text}" ${eol} -1 body)
set(md "${OUT}.md")
file(WRITE "${md}" "% ${NAME} ${SECTION} \"\" \"mmsgate ${VERSION}\" \"mmsgate manual\"${body}")
execute_process(COMMAND "${MD2MAN}" -in "${md}" -out "${OUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "go-md2man failed on ${IN}")
endif()
file(REMOVE "${md}")
