# Installs the package into a scratch prefix, builds tests/consumer against it, and runs it.
# Run by ctest: cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P consumer.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
foreach(step
    "${CMAKE_COMMAND};--install;${BUILD_DIR};--prefix;${WORK_DIR}/prefix;--component;bounded"
    "${CMAKE_COMMAND};-S;${SOURCE_DIR}/tests/consumer;-B;${WORK_DIR}/build;-G;Ninja;-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
    "${CMAKE_COMMAND};--build;${WORK_DIR}/build")
  execute_process(COMMAND ${step} RESULT_VARIABLE failed OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(failed)
    message(FATAL_ERROR "${step} failed:\n${out}")
  endif()
endforeach()
execute_process(COMMAND "${WORK_DIR}/build/consumer" RESULT_VARIABLE failed OUTPUT_VARIABLE out)
if(failed OR NOT out STREQUAL "100\n50\n300\n")
  message(FATAL_ERROR "the consumer printed '${out}' (status ${failed}), not 100 50 300")
endif()
message(STATUS "the installed package works: ${out}")
