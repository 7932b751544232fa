-- book/pandoc/book.lua — the second pass of scripts/render-book. pandoc reads every chapter
-- as book/pandoc/chapter.lua left it, one after the other; this filter writes one page per
-- chapter and the contents page (index.html) itself, and hands the whole book back to
-- pandoc, which writes it as book.html. One pandoc run instead of one per page.
--
-- Chapters link to each other as they do on disk, `[§2.2](02-autodiff.md#22-the-wengert-list)`,
-- and to the repository as `../README.md`. On a page, X.md#a becomes X.html#a; in
-- book.html, #a (and X.md alone #X.md, the start of chapter X). A link to a chapter NN that has
-- another name on disk goes to the chapter NN that exists; a link to a chapter not written
-- yet becomes plain text (class "to-come"), never a broken link. In book.html a heading id
-- that an earlier chapter already uses (e.g. "sources") gets its chapter's name in front,
-- and the links to it follow.
--
-- Metadata given on the command line:
--   out-dir      the folder the pages are written to
--   template     the HTML template of every page (book/pandoc/template.html)
--   repo-prefix  the repository root as seen from out-dir (e.g. ../..)

local repo_prefix = '..'
local stems = {}     -- the chapters in reading order, e.g. "01-tensors"
local known = {}     -- stem → true
local by_number = {} -- "08" → stem
local renamed = {}   -- stem → { id in the chapter → id in book.html }

local function meta_string(meta, key, default)
  if meta[key] == nil then return default end
  return pandoc.utils.stringify(meta[key])
end

-- The stem a link target names: "02-autodiff" for 02-autodiff.md; false for a chapter
-- that is not written yet; nil when it is not a chapter.
local function book_stem(name)
  if known[name] then return name end
  local number = name:match('^(%d%d)%-')
  if number then return by_number[number] or false end
  return nil
end

local function book_id(stem, id)
  return (renamed[stem] and renamed[stem][id]) or id
end

-- A link as it must read in `mode` ("page" or "book") inside chapter `current`.
local function rewrite(link, mode, current)
  local target = link.target
  if target:match('^%a[%w+.-]*:') then return nil end  -- http:, https:, mailto:
  if target:sub(1, 1) == '#' then
    if mode == 'book' then link.target = '#' .. book_id(current, target:sub(2)) end
    return link
  end
  local name, anchor = target:match('^([%w_%-]+)%.md(#?.*)$')
  if name then
    local stem = book_stem(name)
    if stem == false then
      return pandoc.Span(link.content, { class = 'to-come', title = 'not written yet' })
    elseif stem then
      if mode == 'page' then
        link.target = stem .. '.html' .. anchor
      elseif anchor ~= '' then
        link.target = '#' .. book_id(stem, anchor:sub(2))
      else
        link.target = '#' .. stem .. '.md'
      end
      return link
    end
  end
  if target:sub(1, 3) == '../' then  -- a file of the repository
    link.target = repo_prefix .. '/' .. target:sub(4)
    return link
  end
  return nil
end

-- `blocks` with their links (and, in book.html, their heading ids) rewritten for `mode`.
local function rewritten(blocks, mode, stem)
  local filter = {
    Link = function(link) return rewrite(link, mode, stem) end,
    Header = function(h)
      if mode == 'book' and h.identifier ~= '' then h.identifier = book_id(stem, h.identifier) end
      return h
    end,
  }
  return pandoc.walk_block(pandoc.Div(blocks), filter).content
end

local function read_file(path)
  local file = assert(io.open(path, 'r'))
  local text = file:read('a')
  file:close()
  return text
end

local function write_file(path, text)
  local file = assert(io.open(path, 'w'))
  file:write(text)
  file:close()
end

-- A page written with the book's template.
local function write_page(path, blocks, template, variables, toc)
  local options = { template = template, variables = variables, html_math_method = 'mathml',
                    table_of_contents = toc, toc_depth = 2 }
  write_file(path, pandoc.write(pandoc.Pandoc(blocks), 'html', options))
end

function Pandoc(doc)
  local out = meta_string(doc.meta, 'out-dir', '.')
  repo_prefix = meta_string(doc.meta, 'repo-prefix', '..')
  local template = pandoc.template.compile(read_file(meta_string(doc.meta, 'template', 'book/pandoc/template.html')))

  -- Split the book at the markers chapter.lua put at the start of every chapter.
  local chapters = {}  -- stem → its blocks
  local current = nil
  for _, block in ipairs(doc.blocks) do
    if block.t == 'Div' and block.classes:includes('chapter-start') then
      current = (block.identifier:gsub('%.md$', ''))
      stems[#stems + 1] = current
      known[current] = true
      local number = current:match('^(%d%d)%-')
      if number then by_number[number] = current end
      chapters[current] = {}
    end
    if current then table.insert(chapters[current], block) end
  end

  -- A chapter's title is its first level-1 heading.
  local titles = {}
  for _, stem in ipairs(stems) do
    for _, block in ipairs(chapters[stem]) do
      if block.t == 'Header' and block.level == 1 then
        titles[stem] = pandoc.utils.stringify(block)
        break
      end
    end
    titles[stem] = titles[stem] or stem
  end

  -- One page per chapter, linked to its neighbours.
  for i, stem in ipairs(stems) do
    local variables = { pagetitle = titles[stem] .. ' · tinyrank', ['toc-title'] = 'In this chapter' }
    if stems[i - 1] then
      variables['prev-href'] = stems[i - 1] .. '.html'
      variables['prev-title'] = titles[stems[i - 1]]
    end
    if stems[i + 1] then
      variables['next-href'] = stems[i + 1] .. '.html'
      variables['next-title'] = titles[stems[i + 1]]
    end
    write_page(out .. '/' .. stem .. '.html', rewritten(chapters[stem], 'page', stem), template, variables, true)
  end

  -- The contents page.
  local entries = {}
  for _, stem in ipairs(stems) do
    entries[#entries + 1] = { pandoc.Plain({ pandoc.Link(titles[stem], stem .. '.html') }) }
  end
  write_page(out .. '/index.html', {
    pandoc.Header(1, 'tinyrank — the book'),
    pandoc.Para(pandoc.read('Deep learning from scratch in C++17, up to dynamical low-rank compression and '
                            .. 'adversarial robustness. Read it chapter by chapter, or '
                            .. '[all on one page](book.html).').blocks[1].content),
    pandoc.BulletList(entries),
  }, template, { pagetitle = 'tinyrank — the book' }, false)

  -- book.html: heading ids already taken by an earlier chapter get a prefix.
  local seen = {}
  for _, stem in ipairs(stems) do
    pandoc.walk_block(pandoc.Div(chapters[stem]), {
      Header = function(h)
        if h.identifier == '' then return nil end
        if seen[h.identifier] then
          renamed[stem] = renamed[stem] or {}
          renamed[stem][h.identifier] = stem .. '-' .. h.identifier
        end
        seen[h.identifier] = true
      end,
    })
  end
  local blocks = {}
  for _, stem in ipairs(stems) do
    for _, block in ipairs(rewritten(chapters[stem], 'book', stem)) do blocks[#blocks + 1] = block end
  end
  doc.blocks = blocks
  return doc
end
