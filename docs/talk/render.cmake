# Renders the talk deck in headless Chromium.
#   MODE=pdf    prints DECK to PDF (one page a slide)
#   MODE=check  builds the deck, then checks it: nothing in it is fetched from the network; every
#               slide of SLIDES renders and nothing overflows its slide (the page's own ?check
#               measurement, read back with --dump-dom); the PDF has one page a slide.
# Usage: cmake -DCHROMIUM=... -DDECK=build/talk/talk.html -DPDF=... -DMODE=pdf|check
#              [-DSLIDES=docs/talk/slides.md -DBUILD_DIR=build] -P docs/talk/render.cmake
cmake_minimum_required(VERSION 3.25)

if(MODE STREQUAL "check")
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target talk
                  RESULT_VARIABLE built)
  if(NOT built EQUAL 0)
    message(FATAL_ERROR "the deck does not build (a listing or a figure above says why)")
  endif()
endif()

file(READ "${DECK}" html)
# Every resource is inside the file: no src=, <link href= or url() pointing at a server.
if(html MATCHES "(src=\"https?:|<link[^>]*href=\"https?:|url\\(['\"]?https?:)")
  message(FATAL_ERROR "the deck fetches from the network: ${CMAKE_MATCH_1}...")
endif()

if(CHROMIUM) # a wrapper that only points at a snap (Ubuntu's chromium-browser) does not count
  execute_process(COMMAND ${CHROMIUM} --version RESULT_VARIABLE works OUTPUT_QUIET ERROR_QUIET
                  TIMEOUT 30)
  if(NOT works EQUAL 0)
    set(CHROMIUM "")
  endif()
endif()
if(NOT CHROMIUM)
  message("talk_render skipped: no working chromium (apt-get install chromium); the deck was built")
  return()
endif()

string(RANDOM LENGTH 12 profile)
set(profile_dir /tmp/talk-chromium-${profile})
set(flags --headless --no-sandbox --disable-gpu --disable-background-networking
    --disable-component-update --disable-sync --no-first-run --user-data-dir=${profile_dir})

execute_process(COMMAND ${CHROMIUM} ${flags} --no-pdf-header-footer --print-to-pdf=${PDF}
                        file://${DECK}
                OUTPUT_QUIET ERROR_QUIET TIMEOUT 60 RESULT_VARIABLE printed)
if(NOT printed EQUAL 0 OR NOT EXISTS "${PDF}")
  file(REMOVE_RECURSE ${profile_dir})
  message(FATAL_ERROR "chromium could not print ${DECK} to ${PDF}")
endif()
if(MODE STREQUAL "pdf")
  file(REMOVE_RECURSE ${profile_dir})
  message(STATUS "PDF: ${PDF}")
  return()
endif()

execute_process(COMMAND ${CHROMIUM} ${flags} --window-size=1280,720 --virtual-time-budget=10000
                        --dump-dom "file://${DECK}?check"
                OUTPUT_VARIABLE dom ERROR_QUIET TIMEOUT 60)
file(REMOVE_RECURSE ${profile_dir})

# The slides: the title slide, then one per `## ` heading.
file(STRINGS "${SLIDES}" headings REGEX "^## ")
list(LENGTH headings expected)
math(EXPR expected "${expected} + 1")

if(NOT dom MATCHES "check: ([0-9]+) slides, ([0-9]+) with problems")
  message(FATAL_ERROR "the page did not report its check; chromium's DOM began:\n"
                      "${dom}")
endif()
set(rendered ${CMAKE_MATCH_1})
set(problems ${CMAKE_MATCH_2})
string(REGEX MATCHALL "slide [0-9]+: [^\n<]*" report "${dom}")
foreach(line IN LISTS report)
  if(NOT line MATCHES ": ok$")
    message("${line}")
  endif()
endforeach()

file(READ "${PDF}" pdf HEX)
# "/Type /Page" followed by a delimiter, not "/Pages": 2f54797065202f50616765 + not 's'.
string(REGEX MATCHALL "2f54797065202f50616765(0a|0d|20|2f|3e)" pages "${pdf}")
list(LENGTH pages page_count)

message(STATUS "slides in ${SLIDES}: ${expected}; rendered: ${rendered}; with problems: "
               "${problems}; PDF pages: ${page_count}")
if(NOT rendered EQUAL expected OR NOT problems EQUAL 0 OR NOT page_count EQUAL expected)
  message(FATAL_ERROR "the deck does not render as it should (see above)")
endif()
