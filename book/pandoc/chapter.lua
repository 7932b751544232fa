-- book/pandoc/chapter.lua — the first pass of scripts/render-book, run once per chapter
-- (Markdown → pandoc's document tree). It prepares what the pages and book.html share:
--
--   * a display equation ending in \tag{1.1} gets the number "(1.1)" beside it and the
--     anchor #eq-1.1 (pandoc's MathML writer would silently drop the \tag);
--   * a quote, <!-- quote: PATH#REGION --> + code block + <!-- end quote -->, becomes a
--     <div class="quote"> that names its source; a marker without a non-empty code block
--     is left as it is (the rendered-book test looks for such leftovers) and reported;
--   * every code block is highlighted here, once, and kept as ready HTML with an anchor
--     prefix of its own, so that neither the pages nor book.html pay for highlighting
--     again and the combined book has no duplicate anchors;
--   * an empty <div class="chapter-start" id="STEM.md"> opens the chapter, so that
--     book/pandoc/book.lua can tell the chapters apart again.
--
-- The metadata field `stem` (the file name without .md) is given on the command line.

local stem = 'chapter'
local code_blocks = 0

local function warn(message)
  io.stderr:write(message .. '\n')  -- render-book puts the chapter's name in front
end

-- "(1.1)" beside a display equation that ends in \tag{1.1}.
local function number_equation(math)
  if math.mathtype ~= 'DisplayMath' then return nil end
  local tag = math.text:match('\\tag%s*{([^}]*)}')
  if not tag then return nil end
  local text = math.text:gsub('\\tag%s*{[^}]*}', '')
  return pandoc.Span(
    { pandoc.Math('DisplayMath', text), pandoc.Span({ pandoc.Str('(' .. tag .. ')') }, { class = 'eqno' }) },
    { id = 'eq-' .. tag, class = 'equation' })
end

-- A code block as highlighted HTML, its anchors prefixed with STEM-code-N.
local function highlighted(block)
  code_blocks = code_blocks + 1
  block.identifier = stem .. '-code-' .. code_blocks
  return pandoc.RawBlock('html', pandoc.write(pandoc.Pandoc({ block }), 'html'))
end

local function quote_target(block)
  if block.t ~= 'RawBlock' or block.format ~= 'html' then return nil end
  return block.text:match('^%s*<!%-%- quote:%s*(.-)%s*%-%->%s*$')
end

local function is_quote_end(block)
  return block.t == 'RawBlock' and block.format == 'html' and block.text:match('^%s*<!%-%- end quote %-%->%s*$') ~= nil
end

-- Replaces every well-formed quote in a list of blocks by a <div class="quote">.
local function resolve_quotes(blocks)
  local out = {}
  local i = 1
  while i <= #blocks do
    local target = quote_target(blocks[i])
    local code, close = blocks[i + 1], blocks[i + 2]
    if target and code and code.t == 'CodeBlock' and code.text:match('%S') and close and is_quote_end(close) then
      local path, region = target:match('^(.-)#(.*)$')
      local label = pandoc.Para({ pandoc.Code(path or target), pandoc.Space(), pandoc.Str('·'), pandoc.Space(),
                                  pandoc.Str('region'), pandoc.Space(), pandoc.Code(region or '?') })
      out[#out + 1] = pandoc.Div({ label, code }, { class = 'quote', ['data-source'] = target })
      i = i + 3
    else
      local text = blocks[i].t == 'RawBlock' and blocks[i].text or ''
      for unresolved in text:gmatch('<!%-%- quote:%s*(.-)%s*%-%->') do
        warn('the quote of ' .. unresolved .. ' holds no code; run `make book-quotes`')
      end
      out[#out + 1] = blocks[i]
      i = i + 1
    end
  end
  return pandoc.List(out)
end

function Pandoc(doc)
  if doc.meta.stem then stem = pandoc.utils.stringify(doc.meta.stem) end
  local blocks = pandoc.walk_block(pandoc.Div(doc.blocks), { Blocks = resolve_quotes }).content
  blocks = pandoc.walk_block(pandoc.Div(blocks), { Math = number_equation }).content
  blocks = pandoc.walk_block(pandoc.Div(blocks), { CodeBlock = highlighted }).content
  table.insert(blocks, 1, pandoc.Div({}, { id = stem .. '.md', class = 'chapter-start' }))
  doc.blocks = blocks
  return doc
end
