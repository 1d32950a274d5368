import re,os,sys,glob
def names(files):
    out=set()
    for f in files:
        for m in re.finditer(r'^pub (?:struct|enum|const|fn|type|trait) (\w+)', open(f).read(), re.M): out.add(m.group(1))
    return out
P=names([f for f in glob.glob('src/protocol/*.rs') if not f.endswith(('model.rs','schemas.rs','mod.rs'))])
S=names(['src/state/mod.rs','src/state/rules.rs'])|{'apply'}
# llm items moved
LLM_MOVED={'Usage','RetryNotice','ToolDef','ToolCall'}
def split_items(items):
    # items: list of strings (top-level, may include nested {..})
    res=[];depth=0;cur=''
    for ch in items:
        if ch=='{': depth+=1
        if ch=='}': depth-=1
        if ch==',' and depth==0: res.append(cur.strip()); cur=''
        else: cur+=ch
    if cur.strip(): res.append(cur.strip())
    return res
def route(root, mod, item):
    base=item.split(' as ')[0].split('::')[0].strip()
    if mod=='engine':
        if base in P: return f'{root}::protocol'
        if base in S: return f'{root}::state'
        if base=='deps': return f'{root}::state'
        return f'{root}::engine'
    if mod=='llm':
        if base in LLM_MOVED: return f'{root}::protocol'
        return f'{root}::llm'
def fix_use(m):
    indent,pub,root,mod,body=m.group(1),m.group(2) or '',m.group(3),m.group(4),m.group(5)
    if body.startswith('{'):
        items=split_items(body[1:-1])
    else:
        items=[body]
    groups={}
    for it in items:
        if not it: continue
        groups.setdefault(route(root,mod,it),[]).append(it)
    out=[]
    for path,its in groups.items():
        its=[i for i in its if not (i=='self' and path!=f'{root}::{mod}')]
        if not its: continue
        if len(its)==1 and '{' not in its[0] and its[0]!='self':
            out.append(f'{indent}{pub}use {path}::{its[0]};')
        elif len(its)==1 and its[0]=='self':
            out.append(f'{indent}{pub}use {path};')
        else:
            out.append(f'{indent}{pub}use {path}::{{{", ".join(its)}}};')
    return '\n'.join(out)
pat=re.compile(r'^([ \t]*)(pub(?:\([a-z]+\))? )?use (crate|baton)::(engine|llm)::(\{[^;]*\}|[A-Za-z_][\w:]*(?: as \w+)?);',re.M|re.S)
inline=re.compile(r'\b(crate|baton)::(engine|llm)::([A-Z]\w*|apply\b|deps\b)')
for f in sys.argv[1:]:
    s=open(f).read(); o=s
    s=pat.sub(fix_use,s)
    def fix_inline(m):
        return route(m.group(1),m.group(2),m.group(3))+'::'+m.group(3)
    s=inline.sub(fix_inline,s)
    if s!=o: open(f,'w').write(s); print('fixed',f)
