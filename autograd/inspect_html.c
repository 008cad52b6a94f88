/* inspect_html.c - tg_tape_write_html: the backward sweep as one
 * self-contained HTML page (inline SVG, JavaScript, no network) that a
 * browser steps through with Previous / Next.
 *
 * The page holds three things, written here:
 *   - the graph: one box per record the output depends on, edges from
 *     inputs to users, laid out by Graphviz (`dot -Tsvg`) when asked for
 *     and found, else in layers of our own (a record's layer is one more
 *     than its deepest input's, a row each from the top, boxes in a row
 *     ordered by record number);
 *   - a table of every record's value;
 *   - the sweep as data (a JSON object): for each record the sweep reaches,
 *     in the sweep's order, its gradient and the steps of the chain rule it
 *     passes on, computed by tg__trace_steps and written by tg__step_text,
 *     the same code and text as the backward trace.
 * The script (html_js below) only shows these numbers; it computes none.
 */
#include "inspect_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The page's script: step k (0: before the sweep) highlights the k-th
 * record reached, shows its steps, and fills in the gradients of the
 * records reached so far (a record's gradient is complete when the sweep
 * reaches it). "#step=K" in the address opens step K; "#next=N" presses
 * Next N times, through the button, and "&prev=M" then Previous M times. */
static const char html_js[] =
    "(function(){\n"
    "var D=JSON.parse(document.getElementById('tg-data').textContent);\n"
    "var k=0,N=D.steps.length;\n"
    "function $(i){return document.getElementById(i);}\n"
    "function box(i){return document.getElementById('n'+i);}\n"
    "function txt(e,s){e.textContent=s;}\n"
    "function gline(i,s){var g=box(i);if(!g)return;var t=g.querySelector('text.grad');\n"
    " if(!t){var b=g.getBBox();t=document.createElementNS('http://www.w3.org/2000/svg','text');\n"
    "  t.setAttribute('class','grad');t.setAttribute('x',b.x+b.width/2);\n"
    "  t.setAttribute('y',b.y+b.height-5);t.setAttribute('text-anchor','middle');g.appendChild(t);}\n"
    " txt(t,s);}\n"
    "function show(){\n"
    " for(var i=0;i<D.nodes.length;i++){var n=D.nodes[i],g=box(n.id);\n"
    "  if(g)g.setAttribute('class','node');gline(n.id,'');txt($('g'+n.id),'');}\n"
    " for(var j=0;j<k;j++){var s=D.steps[j];gline(s.node,'grad '+s.grad);\n"
    "  txt($('g'+s.node),s.grad);var g=box(s.node);if(g)g.setAttribute('class','node done');}\n"
    " var cur=$('cur'),L=$('lines');L.innerHTML='';\n"
    " $('prev').disabled=k==0;$('next').disabled=k==N;\n"
    " txt($('count'),'step '+k+' of '+N);\n"
    " if(k==0){cur.setAttribute('data-node','');\n"
    "  txt(cur,'Before the sweep: the forward values are known; dL/dL = 1 seeds the gradient. Press Next.');return;}\n"
    " var s=D.steps[k-1];cur.setAttribute('data-node',s.node);\n"
    " var g=box(s.node);if(g)g.setAttribute('class','node current');\n"
    " txt(cur,s.what+'   gradient complete: dL/d'+s.label+' = '+s.grad);\n"
    " for(var j=0;j<s.parts.length;j++){var p=s.parts[j],d=document.createElement('div');\n"
    "  d.className='step';d.setAttribute('data-input',p.input);\n"
    "  var a=document.createElement('div');a.className='line';txt(a,p.line);d.appendChild(a);\n"
    "  var b=document.createElement('div');b.className='parts';\n"
    "  txt(b,'incoming dL/d'+s.label+' = '+p.incoming+(p.local!=null?',  local d#'+s.node+'/d#'+p.input+' = '+p.local:'')+\n"
    "   ',  added to dL/d'+p.inlabel+': '+p.product);d.appendChild(b);L.appendChild(d);\n"
    "  var ib=box(p.input);if(ib&&ib.getAttribute('class')=='node')ib.setAttribute('class','node input');}\n"
    " if(!s.parts.length){var d=document.createElement('div');d.className='step';\n"
    "  txt(d,s.leaf?'a leaf: its gradient is final':'nothing to pass on');L.appendChild(d);}\n"
    "}\n"
    "$('prev').onclick=function(){if(k>0)k--;show();};\n"
    "$('next').onclick=function(){if(k<N)k++;show();};\n"
    "document.addEventListener('keydown',function(e){if(e.key=='ArrowRight')$('next').click();\n"
    " if(e.key=='ArrowLeft')$('prev').click();});\n"
    "var h=location.hash,m;\n"
    "if((m=/step=(\\d+)/.exec(h)))k=Math.min(N,parseInt(m[1],10));\n"
    "show();\n"
    "if((m=/next=(\\d+)/.exec(h)))for(var i=0;i<parseInt(m[1],10);i++)$('next').click();\n"
    "if((m=/prev=(\\d+)/.exec(h)))for(var i=0;i<parseInt(m[1],10);i++)$('prev').click();\n"
    "})();\n";

static const char html_css[] =
    "body{font-family:Helvetica,Arial,sans-serif;margin:16px;color:#222}\n"
    "h1{font-size:18px} #bar{margin:8px 0} button{font-size:14px;padding:4px 14px}\n"
    "#graph{overflow-x:auto}\n"
    "#cur{font-family:monospace;font-size:14px;margin:8px 0;font-weight:bold}\n"
    ".line{font-family:monospace;font-size:14px} .parts{font-size:12px;color:#555;margin:0 0 6px 16px}\n"
    ".node rect,.node polygon,.node path{fill:#f8f8f8;stroke:#888}\n"
    ".node.done rect,.node.done polygon,.node.done path{fill:#d3f9d8;stroke:#2b8a3e}\n"
    ".node.input rect,.node.input polygon,.node.input path{fill:#fff3bf;stroke:#e67700}\n"
    ".node.current rect,.node.current polygon,.node.current path{fill:#ffa94d;stroke:#d9480f;stroke-width:3}\n"
    "text{font-family:Helvetica,Arial,sans-serif;font-size:11px} text.grad{fill:#2b8a3e;font-weight:bold}\n"
    "table{border-collapse:collapse;font-size:12px} td,th{border:1px solid #ccc;padding:2px 6px;"
    "font-family:monospace;text-align:left}\n";

/* ------------------------------------------------------------ escaping */

/* Text inside HTML or SVG. */
static void put_xml(sink *s, const char *t) {
    for (; *t; t++) {
        switch (*t) {
        case '<': tg__put(s, "&lt;"); break;
        case '>': tg__put(s, "&gt;"); break;
        case '&': tg__put(s, "&amp;"); break;
        case '"': tg__put(s, "&quot;"); break;
        default: tg__put(s, "%c", *t);
        }
    }
}

/* A JSON string inside a <script> element ("<" escaped, so no "</script>"). */
static void put_json(sink *s, const char *t) {
    tg__put(s, "\"");
    for (; *t; t++) {
        unsigned char c = (unsigned char)*t;
        if (c == '"' || c == '\\') tg__put(s, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&') tg__put(s, "\\u%04x", c);
        else tg__put(s, "%c", c);
    }
    tg__put(s, "\"");
}

/* ------------------------------------------------------------- records */

typedef struct hnode {
    tg_tensor *r;
    int layer, row;
} hnode;

typedef struct hpage {
    tg_tape *tape;
    tg_tensor *out;
    size_t n;                  /* records up to out */
    tg_tensor **recs;          /* [n] */
    unsigned char *keep;       /* [n] out depends on it */
    int *layer, *row;          /* [n] */
    sink *s;
    size_t idx;                /* the record being stepped */
    bool first;                /* no part written yet */
} hpage;

static void *work_grad(const tg_tensor *r) {
    if (!r->grad) return NULL;
    return (r->flags & TGF_GRAPH) ? ((tg_tensor *)r->grad)->data : r->grad;
}

static int64_t index_of(const hpage *p, const tg_tensor *t) {
    return t ? tg__rec_index(p->tape, t) : -1;
}

/* The record numbers of record i's inputs (up to 16; -1: not on this
 * pass); returns how many. */
static int input_idx(const hpage *p, size_t i, int64_t *k) {
    if (!tg__ops[p->recs[i]->op].nin) return 0;
    tg_tensor *in[16];
    bool more;
    int m = tg__inputs_of(p->recs[i], in, 16, &more);
    for (int j = 0; j < m; j++) k[j] = index_of(p, in[j]);
    return m;
}

/* Marks what out depends on and gives each record a layer and a row. */
static void layout(hpage *p) {
    size_t oi = p->n - 1;
    p->keep[oi] = 1;
    int64_t k[16];
    for (size_t i = p->n; i-- > 0;) {
        if (!p->keep[i]) continue;
        int m = input_idx(p, i, k);
        for (int j = 0; j < m; j++)
            if (k[j] >= 0) p->keep[k[j]] = 1;
    }
    int rows[4096] = {0};
    for (size_t i = 0; i < p->n; i++) {
        if (!p->keep[i]) continue;
        int l = 0;
        int m = input_idx(p, i, k);
        for (int j = 0; j < m; j++)
            if (k[j] >= 0 && p->layer[k[j]] + 1 > l) l = p->layer[k[j]] + 1;
        if (l > 4095) l = 4095;
        p->layer[i] = l;
        p->row[i] = rows[l]++;
    }
}

/* A record's value as text (the trace's writer), cut for a box. */
static void value_text(const tg_tensor *r, const void *data, char *b, size_t n) {
    sink vs = {NULL, b, n, 0, false};
    if (n) b[0] = 0;
    tg__put_values(&vs, r->dtype, r->rank, r->shape, data);
}

enum { BOX_W = 160, BOX_H = 58, COL_W = 176, ROW_H = 92, PAD = 10 };

static void svg_layered(hpage *p) {
    sink *s = p->s;
    int maxl = 0, maxr = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (!p->keep[i]) continue;
        maxl = p->layer[i] > maxl ? p->layer[i] : maxl;
        maxr = p->row[i] > maxr ? p->row[i] : maxr;
    }
    int w = (maxr + 1) * COL_W + 2 * PAD, h = (maxl + 1) * ROW_H + 2 * PAD;
    tg__put(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\">\n",
            w, h, w, h);
    tg__put(s, "<defs><marker id=\"arr\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
               "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" "
               "fill=\"#777\"/></marker></defs>\n");
    int64_t ks[16];
    for (size_t i = 0; i < p->n; i++) { /* edges under the boxes */
        if (!p->keep[i]) continue;
        int m = input_idx(p, i, ks);
        for (int j = 0; j < m; j++) {
            int64_t k = ks[j];
            if (k < 0) continue;
            int x0 = PAD + p->row[k] * COL_W + BOX_W / 2, y0 = PAD + p->layer[k] * ROW_H + BOX_H;
            int x1 = PAD + p->row[i] * COL_W + BOX_W / 2, y1 = PAD + p->layer[i] * ROW_H;
            tg__put(s, "<path class=\"edge\" d=\"M%d,%d C%d,%d %d,%d %d,%d\" fill=\"none\" "
                       "stroke=\"#777\" marker-end=\"url(#arr)\"/>\n",
                    x0, y0, x0, y0 + 25, x1, y1 - 25, x1, y1);
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        if (!p->keep[i]) continue;
        tg_tensor *r = p->recs[i];
        int x = PAD + p->row[i] * COL_W, y = PAD + p->layer[i] * ROW_H;
        char head[LHS_MAX + 64], val[64];
        const char *nm = tg_tensor_name(r);
        const char *op = r->op == TG_OP_LEAF ? "leaf" : r->op == TG_OP_PROXY ? "param"
                                                                             : tg__ops[r->op].name;
        snprintf(head, sizeof head, "#%zu%s%s  %s", i, nm ? " " : "", nm ? nm : "", op);
        value_text(r, r->data, val, sizeof val);
        tg__put(s, "<g class=\"node\" id=\"n%zu\"><title>v%zu</title>\n", i, i);
        tg__put(s, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"5\"%s/>\n", x, y, BOX_W,
                BOX_H, r->flags & TGF_REQ ? "" : " stroke-dasharray=\"4,3\"");
        tg__put(s, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">", x + BOX_W / 2,
                y + 15);
        put_xml(s, head);
        tg__put(s, "</text>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">= ", x + BOX_W / 2, y + 31);
        put_xml(s, val);
        tg__put(s, "</text>\n</g>\n");
    }
    tg__put(s, "</svg>\n");
}

/* Graphviz's layout of the same boxes and edges, read back from `dot
 * -Tsvg`: false when dot cannot be run (then the caller lays out). The
 * node ids ("n5") are set through DOT's id attribute. */
static bool svg_dot(hpage *p) {
#if defined(__unix__) || defined(__APPLE__)
    char dotpath[] = "/tmp/tg_html_XXXXXX";
    int fd = mkstemp(dotpath);
    if (fd < 0) return false;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(dotpath);
        return false;
    }
    sink ds = {f, NULL, 0, 0, false};
    tg__put(&ds, "digraph tapegrad {\n rankdir=TB;\n node [shape=box, style=rounded, "
                 "fontname=\"Helvetica\", fontsize=10, width=1.5];\n");
    for (size_t i = 0; i < p->n; i++) {
        if (!p->keep[i]) continue;
        tg_tensor *r = p->recs[i];
        char val[64];
        const char *nm = tg_tensor_name(r);
        const char *op = r->op == TG_OP_LEAF ? "leaf" : r->op == TG_OP_PROXY ? "param"
                                                                             : tg__ops[r->op].name;
        value_text(r, r->data, val, sizeof val);
        tg__put(&ds, " v%zu [id=\"n%zu\", label=\"", i, i);
        char lab[LHS_MAX + 160];
        snprintf(lab, sizeof lab, "#%zu%s%s  %s\n= %s\n ", i, nm ? " " : "", nm ? nm : "", op, val);
        for (const char *c = lab; *c; c++) {
            if (*c == '\n') tg__put(&ds, "\\n");
            else if (*c == '"' || *c == '\\') tg__put(&ds, "\\%c", *c);
            else tg__put(&ds, "%c", *c);
        }
        tg__put(&ds, "\"%s];\n", r->flags & TGF_REQ ? "" : ", style=\"rounded,dashed\"");
        int64_t k[16];
        int m = input_idx(p, i, k);
        for (int j = 0; j < m; j++)
            if (k[j] >= 0) tg__put(&ds, " v%lld -> v%zu;\n", (long long)k[j], i);
    }
    tg__put(&ds, "}\n");
    bool ok = fclose(f) == 0 && !ds.err;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "dot -Tsvg %s 2>/dev/null", dotpath);
    FILE *pipe = ok ? popen(cmd, "r") : NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = pipe ? tg__malloc(cap) : NULL;
    while (buf) {
        if (len + 4096 > cap) {
            char *nb = tg__realloc(buf, cap * 2);
            if (!nb) {
                tg__free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, pipe);
        if (!got) break;
        len += got;
    }
    int rc = pipe ? pclose(pipe) : -1;
    unlink(dotpath);
    if (!buf || rc != 0) {
        tg__free(buf);
        return false;
    }
    buf[len] = 0;
    char *svg = strstr(buf, "<svg");
    if (!svg) {
        tg__free(buf);
        return false;
    }
    tg__put(p->s, "%s", svg);
    tg__free(buf);
    return true;
#else
    (void)p;
    return false;
#endif
}

/* ---------------------------------------------------------------- data */

static bool put_part(void *ud, tg_tensor *r, const tg__step *st) {
    hpage *p = ud;
    sink *s = p->s;
    if (!st) return true; /* more than 16 inputs: not stepped, as in the trace */
    char b[TG_NAME_MAX + 24];
    tg__put(s, "%s{\"input\":%lld,\"inlabel\":", p->first ? "" : ",",
            (long long)tg__rec_index(p->tape, st->in));
    p->first = false;
    put_json(s, tg__glabel(p->tape, p->out, st->in, b, sizeof b));
    /* the trace's line, the same writer */
    char line[1024];
    sink ls = {NULL, line, sizeof line, 0, false};
    line[0] = 0;
    tg__step_text(&ls, p->tape, p->out, r, p->idx, st);
    tg__put(s, ",\"line\":");
    put_json(s, line);
    char v[512];
    value_text(st->g, st->g->data, v, sizeof v);
    tg__put(s, ",\"incoming\":");
    put_json(s, v);
    if (st->loc) {
        value_text(st->loc, st->loc->data, v, sizeof v);
        tg__put(s, ",\"local\":");
        put_json(s, v);
    } else {
        tg__put(s, ",\"local\":null");
    }
    value_text(st->c, st->c->data, v, sizeof v);
    tg__put(s, ",\"product\":");
    put_json(s, v);
    tg__put(s, "}");
    return true;
}

/* The sweep's order: records that require grad and hold a gradient, from
 * out down (backward.c's loop). */
static bool put_data(hpage *p) {
    sink *s = p->s;
    tg__put(s, "{\"nodes\":[");
    bool first = true;
    for (size_t i = 0; i < p->n; i++) {
        if (!p->keep[i]) continue;
        tg_tensor *r = p->recs[i];
        char b[LHS_MAX];
        tg__lhs_text(p->tape, r, i, b, sizeof b);
        tg__put(s, "%s{\"id\":%zu,\"what\":", first ? "" : ",", i);
        put_json(s, b);
        tg__put(s, "}");
        first = false;
    }
    tg__put(s, "],\"steps\":[");
    first = true;
    for (size_t i = p->n; i-- > 0;) {
        tg_tensor *r = p->recs[i];
        if (!p->keep[i] || !(r->flags & TGF_REQ) || !r->grad) continue;
        char b[LHS_MAX], v[512], lb[TG_NAME_MAX + 24];
        tg__lhs_text(p->tape, r, i, b, sizeof b);
        value_text(r, work_grad(r), v, sizeof v);
        tg__put(s, "%s{\"node\":%zu,\"leaf\":%s,\"what\":", first ? "" : ",", i,
                tg__ops[r->op].nin ? "false" : "true");
        first = false;
        put_json(s, b);
        tg__put(s, ",\"label\":");
        put_json(s, tg__glabel(p->tape, p->out, r, lb, sizeof lb));
        tg__put(s, ",\"grad\":");
        put_json(s, v);
        tg__put(s, ",\"parts\":[");
        p->idx = i;
        p->first = true;
        if (tg__ops[r->op].nin && !tg__trace_steps(p->tape, r, put_part, p)) return false;
        tg__put(s, "]}");
    }
    tg__put(s, "]}");
    return true;
}

static void put_table(hpage *p) {
    sink *s = p->s;
    tg__put(s, "<table id=\"values\"><tr><th>record</th><th>shape</th><th>dtype</th>"
               "<th>value</th><th>dL/d (when complete)</th></tr>\n");
    for (size_t i = 0; i < p->n; i++) {
        if (!p->keep[i]) continue;
        tg_tensor *r = p->recs[i];
        char b[LHS_MAX], sh[160], v[512];
        tg__lhs_text(p->tape, r, i, b, sizeof b);
        value_text(r, r->data, v, sizeof v);
        tg__put(s, "<tr><td>");
        put_xml(s, b);
        tg__put(s, "</td><td>%s</td><td>%s</td><td>", tg__shape_str(sh, sizeof sh, r->rank, r->shape),
                tg_dtype_name((tg_dtype)r->dtype));
        put_xml(s, v);
        tg__put(s, "</td><td id=\"g%zu\"></td></tr>\n", i);
    }
    tg__put(s, "</table>\n");
}

static tg_status write_page(hpage *p, const tg_html_opts *o) {
    sink *s = p->s;
    char lb[TG_NAME_MAX + 24];
    const char *title = o && o->title ? o->title : NULL;
    tg__label(p->tape, p->out, lb, sizeof lb);
    tg__put(s, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>");
    put_xml(s, title ? title : "tapegrad: backward of ");
    if (!title) put_xml(s, lb);
    tg__put(s, "</title>\n<style>\n%s</style>\n</head><body>\n<h1>", html_css);
    if (title) put_xml(s, title);
    else {
        tg__put(s, "Backward of L = ");
        put_xml(s, lb);
    }
    tg__put(s, "</h1>\n<p>Each Next runs one record of the reverse sweep: the orange box passes "
               "its complete gradient dL/d(box) to its inputs (yellow), each getting the incoming "
               "gradient times the op's local derivative. Green boxes hold final gradients.</p>\n");
    tg__put(s, "<div id=\"bar\"><button id=\"prev\">&#9664; Previous</button> "
               "<button id=\"next\">Next &#9654;</button> <span id=\"count\"></span></div>\n");
    tg__put(s, "<div id=\"cur\" data-node=\"\"></div>\n<div id=\"lines\"></div>\n");
    int lay = o ? o->layout : TG_HTML_AUTO;
    tg__put(s, "<div id=\"graph\">\n");
    if (lay == TG_HTML_LAYERED || !svg_dot(p)) {
        if (lay == TG_HTML_DOT) return TG_ERR_IO;
        svg_layered(p);
    }
    tg__put(s, "</div>\n");
    put_table(p);
    tg__put(s, "<script type=\"application/json\" id=\"tg-data\">");
    if (!put_data(p)) return p->tape->status != TG_OK ? p->tape->status : TG_ERR_NOMEM;
    tg__put(s, "</script>\n<script>\n%s</script>\n</body></html>\n", html_js);
    return s->err ? TG_ERR_IO : TG_OK;
}

tg_status tg_tape_write_html(tg_tape *tape, const tg_tensor *out, const char *path,
                             const tg_html_opts *opts) {
    if (!tape || !out || !path)
        return tg__qfail(TG_ERR_NULL, "tape_write_html: %s is NULL",
                         !tape ? "tape" : !out ? "out" : "path");
    tg__fuse_force_all(tape); /* shows values: lazy records compute theirs */
    if (!tg__unhalf(tape)) return tape->status; /* every record in full (half.c) */
    const tg_tensor *o = tg__full(out);
    bool param = o->flags & TGF_PARAM, old = !param && stale(out);
    int64_t oi = param || old || o->tape != tape ? -1 : tg__rec_index(tape, o);
    if (oi < 0)
        return tg__qfail(TG_ERR_ARG, "tape_write_html: out is %s",
                         param ? "a parameter (give the output of the sweep)"
                         : old ? "stale (made before the last tg_tape_reset)"
                               : "on another tape");
    if (tape->status != TG_OK)
        return tg__qfail(tape->status, "tape_write_html: the tape holds an error: %s", tape->err);
    if (!o->grad) /* no backward from out on this pass */
        return tg__qfail(TG_ERR_STATE,
                         "tape_write_html: out has no gradient on this pass (run tg_backward(out) "
                         "first)");
    hpage p = {0};
    p.tape = tape;
    p.out = (tg_tensor *)o;
    p.n = (size_t)oi + 1;
    p.recs = tg__malloc(p.n * sizeof *p.recs);
    p.keep = tg__calloc(p.n, 1);
    p.layer = tg__calloc(p.n, sizeof *p.layer);
    p.row = tg__calloc(p.n, sizeof *p.row);
    tg_status st = TG_ERR_NOMEM;
    if (p.recs && p.keep && p.layer && p.row) {
        size_t k = 0;
        TG__FOR_RECORDS_UP(tape, r, {
            if (k < p.n) p.recs[k++] = r;
        });
        layout(&p);
        FILE *f = fopen(path, "w");
        if (!f) {
            st = tg__qfail(TG_ERR_IO, "tape_write_html: cannot open %s: %s", path, strerror(errno));
        } else {
            sink s = {f, NULL, 0, 0, false};
            p.s = &s;
            st = write_page(&p, opts);
            if (fclose(f) != 0 && st == TG_OK) st = TG_ERR_IO;
            if (st == TG_ERR_IO)
                tg__qfail(st, "tape_write_html: writing %s failed%s", path,
                          opts && opts->layout == TG_HTML_DOT ? " (or graphviz's dot, which the "
                                                                "TG_HTML_DOT layout needs, failed)"
                                                              : "");
            else if (st != TG_OK)
                tg__qfail(st, "tape_write_html: %s", st == TG_ERR_NOMEM ? "out of memory" : tape->err);
        }
    } else {
        tg__qfail(st, "tape_write_html: out of memory");
    }
    tg__free(p.recs);
    tg__free(p.keep);
    tg__free(p.layer);
    tg__free(p.row);
    return st;
}
