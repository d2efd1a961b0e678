# moesim_embed_data(<out_cpp> <function_name> <files>...)
# Generates a C++ source defining
#   std::vector<moesim::EmbeddedFile> <function_name>();
# that returns {name, contents} for each file (name = file name without directory), so data
# files (catalog, presets, default scenario) ship inside the binaries. Regenerated when a file
# changes.
function(moesim_embed_data out_cpp function_name)
  set(files ${ARGN})
  string(REPLACE ";" "|" packed "${files}")
  add_custom_command(
    OUTPUT ${out_cpp}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out_cpp} -DFUNCTION=${function_name}
            "-DFILES=${packed}" -P ${PROJECT_SOURCE_DIR}/cmake/embed_run.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/embed_run.cmake
    COMMENT "Embedding data for ${function_name}"
    VERBATIM)
endfunction()
