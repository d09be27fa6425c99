# Checks that the sources of one folder include only what its README allows.
#
#   cmake -DROOT=<source dir> -DFOLDER=<folder> -P check_includes.cmake
#
# The folder's README.md has one line, not wrapped,
#
#   **Includes:** `core/`, `schema/`, `<boost/beast/...>`.
#
# naming the project folders it may include (besides its own) and the
# guarded libraries it may include: the actor runtime, the HTTP stack and
# the storage engines, which each stay behind one folder's door. Any other
# system header is free.
set(guarded "caf/" "lmdb.h" "boost/beast/" "boost/asio" "libpq-fe.h")
set(folders actors base bench core http main schema storage tests)

file(STRINGS "${ROOT}/${FOLDER}/README.md" rule REGEX "^\\*\\*Includes:\\*\\*")
if(NOT rule)
  message(FATAL_ERROR "${FOLDER}/README.md has no **Includes:** line")
endif()
string(REGEX MATCHALL "`[^`]+`" items "${rule}")
set(allowed_folders "${FOLDER}")
set(allowed_headers "")
foreach(item IN LISTS items)
  string(REGEX REPLACE "^`|`$" "" item "${item}")
  if(item MATCHES "^<(.*)>$")
    string(REGEX REPLACE "\\.\\.\\.|…" "" prefix "${CMAKE_MATCH_1}")
    list(APPEND allowed_headers "${prefix}")
  elseif(item MATCHES "^([a-z_]+)/$")
    list(APPEND allowed_folders "${CMAKE_MATCH_1}")
  else()
    message(FATAL_ERROR "${FOLDER}/README.md: cannot read '${item}' in its **Includes:** line")
  endif()
endforeach()

file(GLOB_RECURSE sources "${ROOT}/${FOLDER}/*.hpp" "${ROOT}/${FOLDER}/*.cpp" "${ROOT}/${FOLDER}/*.hpp.in")
set(violations "")
foreach(source IN LISTS sources)
  file(STRINGS "${source}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
  file(RELATIVE_PATH name "${ROOT}" "${source}")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*" "" target "${line}")
    if(target MATCHES "^\"([a-z_]+)/")
      set(folder "${CMAKE_MATCH_1}")
      list(FIND folders "${folder}" known)
      list(FIND allowed_folders "${folder}" ok)
      if(known GREATER -1 AND ok EQUAL -1)
        list(APPEND violations "${name}: ${target}")
      endif()
    elseif(target MATCHES "^<([^>]+)>")
      set(header "${CMAKE_MATCH_1}")
      foreach(g IN LISTS guarded)
        string(FIND "${header}" "${g}" at)
        if(at EQUAL 0)
          set(permitted FALSE)
          foreach(a IN LISTS allowed_headers)
            string(FIND "${header}" "${a}" at)
            if(at EQUAL 0)
              set(permitted TRUE)
            endif()
          endforeach()
          if(NOT permitted)
            list(APPEND violations "${name}: ${target}")
          endif()
        endif()
      endforeach()
    endif()
  endforeach()
endforeach()

if(violations)
  list(JOIN violations "\n  " shown)
  message(FATAL_ERROR "${FOLDER}/ includes past its door (${FOLDER}/README.md: ${rule}):\n  ${shown}")
endif()
list(LENGTH sources n)
message(STATUS "${FOLDER}/: ${n} files include only what ${FOLDER}/README.md allows")
