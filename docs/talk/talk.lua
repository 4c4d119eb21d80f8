-- Pandoc filter for the talk deck (docs/talk/slides.md). Run from the repository root; every path
-- is relative to it. It makes three things true at build time:
--
--  * Listings. `<!-- listing: PATH from="TEXT" to="TEXT" -->` before a fenced block (the syntax
--    of docs/listings): the block must hold exactly those lines of PATH, or the build fails. The
--    slide shows the lines read from PATH, large, with the lines named by a preceding
--    `<!-- mark: TEXT -->` marked.
--  * Figures. `[]{.fig csv=FILE where="stage=02 requests=1000000" col=peak_rss_kb as=KB}` becomes
--    that cell of a tour CSV; `[]{.fig txt=FILE find="Lua pattern with (one capture)" as=KB}` the
--    first capture in a text file; `[]{.fig slope=FILE x=requests y=peak_rss_kb scale=1024}` the
--    least-squares slope of y against x (bytes per request). `:::{.bars csv=FILE col=... as=...}`
--    draws a bar chart of one column, one bar per `stage=...` listed in `rows`.
--  * Sources. Every slide ends with a footer naming the files its figures, plots and code came
--    from, described by the `sources` map in the deck's metadata when it names them.

local sources_described = {}
local slide_sources = {}
local slide_order = {}
local problems = {}

local function fail(text)
  table.insert(problems, text)
end

local function uses(path)
  if not slide_sources[path] then
    slide_sources[path] = true
    table.insert(slide_order, path)
  end
end

local function read_lines(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local lines = {}
  for line in f:lines() do table.insert(lines, line) end
  f:close()
  return lines
end

local function read_text(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function html_escape(s)
  return (s:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&quot;"))
end

-- Numbers as people read them: 1286076 -> 1,286,076.
local function group(n)
  local s = string.format("%d", math.floor(n + 0.5))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local function formatted(value, as)
  local v = tonumber(value)
  if as == nil or as == "" or v == nil then return value end
  if as == "KB" then return group(v) .. " KB" end
  if as == "MB" then
    return v / 1024 >= 100 and group(v / 1024) .. " MiB" or string.format("%.1f MiB", v / 1024)
  end
  if as == "GB" then return string.format("%.2f GiB", v / 1048576) end
  if as == "%" then return string.format("%d%%", math.floor(v + 0.5)) end
  if as == "s" then return string.format("%.2f s", v) end
  if as == "min" then return string.format("%.1f min", v / 60) end
  if as == "n" then return group(v) end
  if as == "x" then return string.format("%.0f×", v) end
  fail("unknown as=" .. as)
  return value
end

-- --- Tour CSVs --------------------------------------------------------------------------------

local csv_cache = {}
local function csv_rows(path)
  if csv_cache[path] then return csv_cache[path] end
  local lines = read_lines(path)
  if not lines then
    fail("no file " .. path)
    return {}
  end
  local header = {}
  for name in (lines[1] .. ","):gmatch("([^,]*),") do table.insert(header, name) end
  local rows = {}
  for i = 2, #lines do
    local row, k = {}, 1
    for cell in (lines[i] .. ","):gmatch("([^,]*),") do
      row[header[k]] = cell
      k = k + 1
    end
    table.insert(rows, row)
  end
  csv_cache[path] = rows
  return rows
end

-- The rows where every `name=value` of `where` holds.
local function select(path, where)
  local out = {}
  for _, row in ipairs(csv_rows(path)) do
    local all = true
    for name, value in (where or ""):gmatch("([%w_]+)=(%S+)") do
      if row[name] ~= value then all = false end
    end
    if all then table.insert(out, row) end
  end
  return out
end

local function cell(path, where, col)
  local rows = select(path, where)
  if #rows ~= 1 then
    fail(string.format("%s: %d rows where %s, not one", path, #rows, where or ""))
    return "?"
  end
  if rows[1][col] == nil or rows[1][col] == "" then
    fail(string.format("%s: no %s where %s", path, col, where))
    return "?"
  end
  return rows[1][col]
end

local function slope(path, where, x, y, scale)
  local rows = select(path, where)
  local n, sx, sy, sxx, sxy = 0, 0, 0, 0, 0
  for _, row in ipairs(rows) do
    local a, b = tonumber(row[x]), tonumber(row[y]) * (scale or 1)
    n, sx, sy, sxx, sxy = n + 1, sx + a, sy + b, sxx + a * a, sxy + a * b
  end
  if n < 2 then
    fail(path .. ": fewer than two rows for a slope")
    return 0
  end
  return (n * sxy - sx * sy) / (n * sxx - sx * sx)
end

-- --- Figures in the text ------------------------------------------------------------------------

local function figure(attr)
  local a = attr.attributes
  if a.csv then
    uses(a.csv)
    return formatted(cell(a.csv, a.where, a.col), a.as)
  elseif a.slope then
    uses(a.slope)
    return formatted(slope(a.slope, a.where, a.x, a.y, tonumber(a.scale)), a.as)
  elseif a.txt then
    uses(a.txt)
    local text = read_text(a.txt)
    if not text then
      fail("no file " .. a.txt)
      return "?"
    end
    local found = text:match(a.find)
    if not found then
      fail(a.txt .. ": nothing matches " .. a.find)
      return "?"
    end
    return formatted(found, a.as)
  end
  fail("a .fig span needs csv=, slope= or txt=")
  return "?"
end

-- --- Bar charts ---------------------------------------------------------------------------------

-- The stages' colours, as in the plots (gnuplot's first three) and the live view.
local stage_colour = { ["02"] = "#9400D3", ["03"] = "#009E73", ["04"] = "#56B4E9" }
local stage_label = { ["02"] = "02 eager + semaphore", ["03"] = "03 limited_as_completed",
                      ["04"] = "04 the library" }

local function bars(div)
  local a = div.attributes
  uses(a.csv)
  local entries, top = {}, 0
  for stage in a.rows:gmatch("%S+") do
    local value = tonumber(cell(a.csv, (a.where or "") .. " stage=" .. stage, a.col)) or 0
    table.insert(entries, { stage = stage, value = value })
    if value > top then top = value end
  end
  if a.max then top = tonumber(a.max) end
  local width, bar_h, gap, left, right_pad = 1100, 64, 30, 400, 190
  local height = #entries * (bar_h + gap) + 70
  local plot_w = width - left - right_pad
  local svg = { string.format('<svg class="bars" viewBox="0 0 %d %d" role="img" aria-label="%s">',
                              width, height, html_escape(a.title or "")) }
  for i, e in ipairs(entries) do
    local y = (i - 1) * (bar_h + gap) + 10
    local w = top > 0 and math.max(3, e.value / top * plot_w) or 3
    table.insert(svg, string.format(
      '<text x="%d" y="%d" text-anchor="end" class="label">%s</text>', left - 16,
      y + bar_h / 2 + 11, html_escape(stage_label[e.stage] or e.stage)))
    table.insert(svg, string.format('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>',
                                    left, y, w, bar_h, stage_colour[e.stage] or "#999"))
    table.insert(svg, string.format('<text x="%.1f" y="%d" class="value">%s</text>',
                                    left + w + 14, y + bar_h / 2 + 12,
                                    html_escape(formatted(e.value, a.as))))
  end
  local axis_y = #entries * (bar_h + gap) + 6
  table.insert(svg, string.format(
    '<line x1="%d" y1="4" x2="%d" y2="%d" class="axis"/><line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>',
    left, left, axis_y, left, axis_y, left + plot_w, axis_y))
  table.insert(svg, string.format('<text x="%d" y="%d" text-anchor="middle" class="axis-label">%s</text>',
                                  width / 2, axis_y + 44, html_escape(a.title or "")))
  table.insert(svg, "</svg>")
  return pandoc.RawBlock("html", table.concat(svg, "\n"))
end

-- --- Listings -----------------------------------------------------------------------------------

-- `name="value"` in a marker, with \" and \n as docs/listings reads them.
local function marker_attribute(marker, name)
  local start = marker:find("%s" .. name .. '="')
  if not start then return nil end
  local i = start + #name + 3
  local value = ""
  while i <= #marker do
    local c = marker:sub(i, i)
    if c == "\\" then
      value = value .. c .. marker:sub(i + 1, i + 1)
      i = i + 2
    elseif c == '"' then
      return value
    else
      value = value .. c
      i = i + 1
    end
  end
  return nil
end

local function split_text(text)
  local parts, current, i = {}, "", 1
  while i <= #text do
    local c = text:sub(i, i)
    if c == "\\" and i < #text then
      i = i + 1
      c = text:sub(i, i)
      if c == "n" then
        table.insert(parts, current)
        current = ""
        c = nil
      end
    end
    if c then current = current .. c end
    i = i + 1
  end
  table.insert(parts, current)
  return parts
end

local function find_lines(lines, start, parts)
  for i = start, #lines - #parts + 1 do
    local all = true
    for j = 1, #parts do
      if not lines[i + j - 1]:find(parts[j], 1, true) then
        all = false
        break
      end
    end
    if all then return i end
  end
  return nil
end

local function listing_lines(marker)
  local path = marker:match("<!%-%-%s*listing:%s*(%S+)")
  uses(path)
  local lines = read_lines(path)
  if not lines then
    fail("listing: no file " .. path)
    return nil, path
  end
  local start = 1
  local after = marker_attribute(marker, "after")
  if after then
    local parts = split_text(after)
    local at = find_lines(lines, 1, parts)
    if not at then
      fail("listing of " .. path .. ' has no "' .. after .. '"')
      return nil, path
    end
    start = at + #parts
  end
  local from = marker_attribute(marker, "from")
  if not from then
    fail("listing of " .. path .. ' has no from="TEXT"')
    return nil, path
  end
  local from_parts = split_text(from)
  local first = find_lines(lines, start, from_parts)
  if not first then
    fail("listing of " .. path .. ' has no "' .. from .. '"')
    return nil, path
  end
  local last = first
  local to = marker_attribute(marker, "to")
  if to then
    local parts = split_text(to)
    local at = find_lines(lines, first, parts)
    if not at then
      fail("listing of " .. path .. ' has no "' .. to .. '" after "' .. from .. '"')
      return nil, path
    end
    last = at + #parts - 1
  end
  local out = {}
  for i = first, last do table.insert(out, lines[i]) end
  return out, path
end

local function listing_block(lines, path, marks)
  local html = {}
  for _, line in ipairs(lines) do
    local marked = false
    for _, m in ipairs(marks) do
      if line:find(m, 1, true) then marked = true end
    end
    local text = html_escape(line)
    if text == "" then text = " " end
    table.insert(html, marked and ('<mark>' .. text .. '</mark>') or ('<span>' .. text .. '</span>'))
  end
  return pandoc.RawBlock("html", '<pre class="listing" data-source="' .. html_escape(path) ..
                                 '"><code>' .. table.concat(html) .. "</code></pre>")
end

-- --- The slides -----------------------------------------------------------------------------

-- A tour CSV is described by its companion .about (docs/tables reads the same file): the command,
-- the date and the commit of its run, so that a re-made run re-describes itself.
local function about_of(path)
  if not path:match("%.csv$") then return nil end
  local about = {}
  for _, line in ipairs(read_lines(path:gsub("%.csv$", ".about")) or {}) do
    local key, value = line:match("^(%w+):%s*(.*)$")
    if key then about[key] = value end
  end
  if not about.command then return nil end
  return "`" .. about.command .. "`, " .. (about.date or "") .. ", commit " .. (about.commit or "?")
end

local function footer()
  if #slide_order == 0 then return nil end
  local parts = {}
  for _, path in ipairs(slide_order) do
    local described = sources_described[path] or about_of(path)
    table.insert(parts, "<code>" .. html_escape(path) .. "</code>" ..
                        (described and (" (" .. html_escape(described) .. ")") or ""))
  end
  slide_sources, slide_order = {}, {}
  return pandoc.RawBlock("html", '<footer class="source">Source: ' .. table.concat(parts, "; ") ..
                                 "</footer>")
end

local inline_filter = {
  Span = function(span)
    if span.classes:includes("fig") then
      return pandoc.Span({ pandoc.Str(figure(span)) }, pandoc.Attr("", { "fig" }))
    end
  end,
  -- An image's path is relative to the deck's page, so that it shows on the code host too; pandoc
  -- runs from the repository root, so it is rewritten from there.
  Image = function(image)
    image.src = image.src:gsub("^%.%./", "docs/")
    uses(image.src)
    return image
  end,
}

function Pandoc(doc)
  for path, text in pairs(doc.meta.sources or {}) do
    sources_described[path] = pandoc.utils.stringify(text)
  end
  local out = {}
  local marks = {}
  local blocks = doc.blocks
  local i = 1
  while i <= #blocks do
    local b = blocks[i]
    if b.t == "Header" and b.level == 2 then
      local f = footer()
      if f then table.insert(out, f) end
      table.insert(out, b:walk(inline_filter))
    elseif b.t == "RawBlock" and b.format == "html" and b.text:match("^<!%-%-%s*measured:") then
      -- docs/tables' freshness marker for the figures below it: not for the audience
    elseif b.t == "RawBlock" and b.format == "html" and b.text:match("^<!%-%-%s*mark:") then
      table.insert(marks, (b.text:match("^<!%-%-%s*mark:%s*(.-)%s*%-%->")))
    elseif b.t == "RawBlock" and b.format == "html" and b.text:match("^<!%-%-%s*listing:") then
      local lines, path = listing_lines(b.text)
      local code = blocks[i + 1]
      if not code or code.t ~= "CodeBlock" then
        fail("listing of " .. path .. " has no code block after it")
      elseif lines then
        if code.text ~= table.concat(lines, "\n") then
          fail("listing of " .. path .. " differs from the source (docs/listings update " ..
               "docs/talk/slides.md rewrites it)")
        end
        table.insert(out, listing_block(lines, path, marks))
        i = i + 1
      end
      marks = {}
    elseif b.t == "Div" and b.classes:includes("bars") then
      table.insert(out, bars(b))
    else
      table.insert(out, b:walk(inline_filter))
    end
    i = i + 1
  end
  local f = footer()
  if f then table.insert(out, f) end
  if #problems > 0 then
    error("docs/talk/slides.md:\n  " .. table.concat(problems, "\n  "))
  end
  return pandoc.Pandoc(out, doc.meta)
end
