"""define.xml (Define-XML 2.1) of the SDTM and ADaM data sets, from the same metadata tables as the CSV and XPT files:
data sets, variables (with the longest value as length), codelists holding the terms the data use (sponsor terms
marked ``def:ExtendedValue``), value-level metadata for TR, RS and SUPP--, origins (Collected: the CRF form and field;
Derived: a method naming the DOMAIN.md rule; Assigned; Protocol) and the XPT file of each data set. A small XSLT
(``define2-1.xsl``, written for this EDC) renders it as HTML in a browser."""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any
from xml.etree import ElementTree as ET

from reports.exports import metadata as md
from reports.exports.common import fmt
from reports.exports.metadata import CODELISTS, Dataset, Variable

ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.1"
XLINK = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", ODM)
ET.register_namespace("def", DEF)
ET.register_namespace("xlink", XLINK)

#: Value-level metadata: data set -> (the result variable, the variable whose value selects the row's metadata).
VALUE_LEVEL = {"TR": ("TRORRES", "TRTESTCD"), "RS": ("RSORRES", "RSTESTCD")}
STYLESHEET = "define2-1.xsl"

Table = tuple[Dataset, list[list[Any]]]


def _o(tag: str) -> str:
    return f"{{{ODM}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DEF}}}{tag}"


def _description(parent: ET.Element, text: str) -> None:
    desc = ET.SubElement(parent, _o("Description"))
    ET.SubElement(desc, _o("TranslatedText"), {XML_LANG: "en"}).text = text


def _length(v: Variable, values: list[str]) -> int:
    if v.numeric:
        return 8
    return max([1, *(len(x.encode("utf-8")) for x in values)])


def _origin(parent: ET.Element, v: Variable) -> None:
    if v.origin == "Collected":
        origin = ET.SubElement(parent, _d("Origin"), {"Type": "Collected", "Source": "Investigator"})
        _description(origin, f"CRF {v.source}" if v.source else "CRF")
    elif v.origin == "Derived":
        ET.SubElement(parent, _d("Origin"), {"Type": "Derived"})
    else:
        origin = ET.SubElement(parent, _d("Origin"), {"Type": v.origin, "Source": "Sponsor"})
        if v.source:
            _description(origin, v.source)


class _Builder:
    def __init__(self, standard: str) -> None:
        self.standard = standard
        self.items: list[ET.Element] = []
        self.methods: dict[str, ET.Element] = {}
        self.value_lists: list[ET.Element] = []
        self.where: list[ET.Element] = []
        self.used_terms: dict[str, set[str]] = defaultdict(set)

    def item(
        self,
        oid: str,
        v: Variable,
        values: list[str],
        *,
        name: str | None = None,
        label: str | None = None,
        value_list: str | None = None,
    ) -> ET.Element:
        attrs = {"OID": oid, "Name": name or v.name, "DataType": v.data_type}
        if v.data_type in ("text", "integer", "float"):
            attrs["Length"] = str(_length(v, values))
        attrs["SASFieldName"] = (name or v.name)[:8]
        if v.display_format:
            attrs[_d("DisplayFormat")] = v.display_format
        item = ET.Element(_o("ItemDef"), attrs)
        _description(item, label or v.label)
        if v.codelist:
            ET.SubElement(item, _o("CodeListRef"), {"CodeListOID": f"CL.{v.codelist}"})
            self.used_terms[v.codelist].update(x for x in values if x)
        _origin(item, v)
        if value_list:
            ET.SubElement(item, _d("ValueListRef"), {"ValueListOID": value_list})
        self.items.append(item)
        return item

    def method(self, oid: str, v: Variable) -> str:
        if oid not in self.methods:
            m = ET.Element(
                _o("MethodDef"), {"OID": oid, "Name": f"Derivation of {v.name}", "Type": "Computation"}
            )
            _description(m, v.source or f"Derived {v.name}")
            self.methods[oid] = m
        return oid


def _value_level(
    b: _Builder, ds: Dataset, header: list[str], rows: list[list[Any]], result: str, selector: str
) -> str:
    """One ValueListDef of ``result`` per value of ``selector`` (TRTESTCD, RSTESTCD, QNAM)."""
    r, s = header.index(result), header.index(selector)
    by: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by[fmt(row[s])].append(fmt(row[r]))
    oid = f"VL.{ds.name}.{result}"
    vl = ET.Element(_d("ValueListDef"), {"OID": oid})
    base = ds.variable(result)
    for order, (key, values) in enumerate(sorted(by.items()), start=1):
        wc = f"WC.{ds.name}.{selector}.{key}"
        where = ET.Element(_d("WhereClauseDef"), {"OID": wc})
        check = ET.SubElement(
            where,
            _o("RangeCheck"),
            {"SoftHard": "Soft", _d("ItemOID"): f"IT.{ds.name}.{selector}", "Comparator": "EQ"},
        )
        ET.SubElement(check, _o("CheckValue")).text = key
        b.where.append(where)
        item_oid = f"IT.{ds.name}.{result}.{key}"
        numeric = all(_is_number(x) for x in values if x) and any(values)
        v = Variable(
            result,
            f"{base.label} ({key})",
            "float" if numeric and result != "QVAL" else "text",
            base.length,
            base.core,
            base.origin,
            base.source,
        )
        ref = ET.SubElement(
            vl, _o("ItemRef"), {"ItemOID": item_oid, "OrderNumber": str(order), "Mandatory": "No"}
        )
        ET.SubElement(ref, _d("WhereClauseRef"), {"WhereClauseOID": wc})
        b.item(item_oid, v, values)
    b.value_lists.append(vl)
    return oid


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _supp_value_level(b: _Builder, ds: Dataset, header: list[str], rows: list[list[Any]]) -> str:
    """SUPP--.QVAL per QNAM, labelled with its QLABEL and with the QORIG of the qualifier."""
    q, qnam, qlabel, qorig = (header.index(c) for c in ("QVAL", "QNAM", "QLABEL", "QORIG"))
    by: dict[str, tuple[str, str, list[str]]] = {}
    for row in rows:
        entry = by.setdefault(fmt(row[qnam]), (fmt(row[qlabel]), fmt(row[qorig]), []))
        entry[2].append(fmt(row[q]))
    oid = f"VL.{ds.name}.QVAL"
    vl = ET.Element(_d("ValueListDef"), {"OID": oid})
    for order, (key, (label, orig, values)) in enumerate(sorted(by.items()), start=1):
        wc = f"WC.{ds.name}.QNAM.{key}"
        where = ET.Element(_d("WhereClauseDef"), {"OID": wc})
        check = ET.SubElement(
            where,
            _o("RangeCheck"),
            {"SoftHard": "Soft", _d("ItemOID"): f"IT.{ds.name}.QNAM", "Comparator": "EQ"},
        )
        ET.SubElement(check, _o("CheckValue")).text = key
        b.where.append(where)
        origin = {"CRF": "Collected", "DERIVED": "Derived"}.get(orig, "Assigned")
        v = Variable("QVAL", label, "text", 200, "Perm", origin, "")  # type: ignore[arg-type]
        ref = ET.SubElement(
            vl,
            _o("ItemRef"),
            {"ItemOID": f"IT.{ds.name}.QVAL.{key}", "OrderNumber": str(order), "Mandatory": "No"},
        )
        ET.SubElement(ref, _d("WhereClauseRef"), {"WhereClauseOID": wc})
        b.item(f"IT.{ds.name}.QVAL.{key}", v, values, label=label)
    b.value_lists.append(vl)
    return oid


def define_xml(
    tables: dict[str, Table],
    *,
    study_id: str,
    study_name: str,
    standard: str = "SDTM",
    folder_prefix: str = "",
) -> bytes:
    """The define.xml of one standard's data sets (``tables`` by name, rows in metadata column order)."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    root = ET.Element(
        _o("ODM"),
        {
            "ODMVersion": "1.3.2",
            "FileType": "Snapshot",
            "FileOID": f"DEF.{study_id}.{standard}",
            "CreationDateTime": now,
            "Originator": study_id,
            "SourceSystem": "SABR-RCC EDC",
            _d("Context"): "Submission",
        },
    )
    study = ET.SubElement(root, _o("Study"), {"OID": f"ST.{study_id}"})
    gv = ET.SubElement(study, _o("GlobalVariables"))
    ET.SubElement(gv, _o("StudyName")).text = study_id
    ET.SubElement(gv, _o("StudyDescription")).text = study_name
    ET.SubElement(gv, _o("ProtocolName")).text = study_id
    is_sdtm = standard == "SDTM"
    mdv = ET.SubElement(
        study,
        _o("MetaDataVersion"),
        {
            "OID": f"MDV.{study_id}.{standard}",
            "Name": f"{study_id} {standard}",
            "Description": f"{standard} data sets of {study_id}",
            _d("DefineVersion"): md.DEFINE_XML_VERSION,
        },
    )
    standards = ET.SubElement(mdv, _d("Standards"))
    ig = ("SDTMIG", md.SDTMIG_VERSION) if is_sdtm else ("ADaMIG", md.ADAMIG_VERSION)
    ET.SubElement(
        standards,
        _d("Standard"),
        {"OID": "STD.IG", "Name": ig[0], "Type": "IG", "Version": ig[1], "Status": "Final"},
    )
    ET.SubElement(
        standards,
        _d("Standard"),
        {
            "OID": "STD.CT",
            "Name": "CDISC/NCI",
            "Type": "CT",
            "PublishingSet": "SDTM" if is_sdtm else "ADaM",
            "Version": md.CT_VERSION,
            "Status": "Final",
        },
    )
    b = _Builder(standard)
    groups: list[ET.Element] = []
    for name, (ds, rows) in tables.items():
        header = ds.columns
        value_lists: dict[str, str] = {}
        if name in VALUE_LEVEL and rows:
            result, selector = VALUE_LEVEL[name]
            value_lists[result] = _value_level(b, ds, header, rows, result, selector)
        if name.startswith("SUPP") and rows:
            value_lists["QVAL"] = _supp_value_level(b, ds, header, rows)
        group = ET.Element(
            _o("ItemGroupDef"),
            {
                "OID": f"IG.{name}",
                "Name": name,
                "Repeating": "No" if name in ("DM", "ADSL") else "Yes",
                "IsReferenceData": "Yes" if ds.cls == "TRIAL DESIGN" else "No",
                "SASDatasetName": name,
                "Purpose": "Tabulation" if is_sdtm else "Analysis",
                _d("Structure"): ds.structure,
                _d("StandardOID"): "STD.IG",
                _d("ArchiveLocationID"): f"LF.{name}",
            },
        )
        if is_sdtm:  # a SUPP-- names its parent domain (CDISC's MSG 2.0 sample define.xml); RELREC itself
            group.set("Domain", name[4:] if name.startswith("SUPP") else name)
        _description(group, ds.label)
        for order, v in enumerate(ds.variables, start=1):
            oid = f"IT.{name}.{v.name}"
            attrs = {
                "ItemOID": oid,
                "OrderNumber": str(order),
                "Mandatory": "Yes" if v.core == "Req" else "No",
            }
            if v.name in ds.keys:
                attrs["KeySequence"] = str(ds.keys.index(v.name) + 1)
            if v.origin == "Derived":
                attrs["MethodOID"] = b.method(f"MT.{name}.{v.name}", v)
            ET.SubElement(group, _o("ItemRef"), attrs)
            i = header.index(v.name)
            b.item(oid, v, [fmt(r[i]) for r in rows], value_list=value_lists.get(v.name))
        ET.SubElement(group, _d("Class"), {"Name": ds.cls})
        leaf = ET.SubElement(
            group, _d("leaf"), {"ID": f"LF.{name}", _x("href"): f"{folder_prefix}{name.lower()}.xpt"}
        )
        ET.SubElement(leaf, _d("title")).text = f"{name.lower()}.xpt"
        groups.append(group)
    mdv.extend(b.value_lists)
    mdv.extend(b.where)
    mdv.extend(groups)
    mdv.extend(b.items)
    for cl_name in sorted(b.used_terms):
        cl = CODELISTS[cl_name]
        codelist = ET.SubElement(
            mdv, _o("CodeList"), {"OID": f"CL.{cl_name}", "Name": cl.label, "DataType": cl.data_type}
        )
        if cl.cdisc:
            codelist.set(_d("StandardOID"), "STD.CT")
        used = b.used_terms[cl_name]
        # A variable that references the list but holds no value in this cut still needs a list with one term or
        # more (define.xml schema): list every term of it then.
        for term in [t for t in (*cl.terms, *cl.extensions) if t in used or not used]:
            attrs = {"CodedValue": term}
            if term in cl.extensions:
                attrs[_d("ExtendedValue")] = "Yes"
            ET.SubElement(codelist, _o("EnumeratedItem"), attrs)
    mdv.extend(b.methods.values())
    body = ET.tostring(root, encoding="unicode")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet type="text/xsl" href="{STYLESHEET}"?>\n'
        f"{body}\n"
    ).encode()


def _x(tag: str) -> str:
    return f"{{{XLINK}}}{tag}"


#: The XSLT that shows define.xml as HTML tables (data sets, variables, codelists, methods) in a browser.
STYLESHEET_XSL = b"""<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:odm="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1"
    xmlns:xlink="http://www.w3.org/1999/xlink" exclude-result-prefixes="odm def xlink">
  <xsl:output method="html" encoding="UTF-8"/>
  <xsl:key name="item" match="odm:ItemDef" use="@OID"/>
  <xsl:key name="method" match="odm:MethodDef" use="@OID"/>
  <xsl:template match="/">
    <xsl:variable name="mdv" select="//odm:MetaDataVersion"/>
    <html><head><title><xsl:value-of select="$mdv/@Name"/></title>
    <style>body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse;margin-bottom:2em}
    td,th{border:1px solid #999;padding:2px 6px;vertical-align:top}th{background:#dde}</style></head>
    <body><h1><xsl:value-of select="$mdv/@Name"/></h1>
    <p><xsl:for-each select="$mdv/def:Standards/def:Standard"><xsl:value-of select="@Name"/>
      <xsl:text> </xsl:text><xsl:value-of select="@Version"/><xsl:text>; </xsl:text></xsl:for-each></p>
    <h2>Data sets</h2>
    <table><tr><th>Data set</th><th>Label</th><th>Class</th><th>Structure</th><th>File</th></tr>
    <xsl:for-each select="$mdv/odm:ItemGroupDef"><tr>
      <td><a href="#{@OID}"><xsl:value-of select="@Name"/></a></td><td><xsl:value-of select="odm:Description"/></td>
      <td><xsl:value-of select="def:Class/@Name"/></td><td><xsl:value-of select="@def:Structure"/></td>
      <td><a href="{def:leaf/@xlink:href}"><xsl:value-of select="def:leaf/def:title"/></a></td></tr></xsl:for-each>
    </table>
    <xsl:for-each select="$mdv/odm:ItemGroupDef">
      <h2 id="{@OID}"><xsl:value-of select="@Name"/>: <xsl:value-of select="odm:Description"/></h2>
      <table><tr><th>Variable</th><th>Label</th><th>Type</th><th>Length</th><th>Codelist</th><th>Origin</th>
      <th>Derivation</th></tr>
      <xsl:for-each select="odm:ItemRef"><xsl:variable name="it" select="key('item', @ItemOID)"/><tr>
        <td><xsl:value-of select="$it/@Name"/></td><td><xsl:value-of select="$it/odm:Description"/></td>
        <td><xsl:value-of select="$it/@DataType"/></td><td><xsl:value-of select="$it/@Length"/></td>
        <td><a href="#{$it/odm:CodeListRef/@CodeListOID}"><xsl:value-of select="$it/odm:CodeListRef/@CodeListOID"/></a></td>
        <td><xsl:value-of select="$it/def:Origin/@Type"/><xsl:text> </xsl:text>
          <xsl:value-of select="$it/def:Origin/odm:Description"/></td>
        <td><xsl:value-of select="key('method', @MethodOID)/odm:Description"/></td></tr></xsl:for-each>
      </table></xsl:for-each>
    <h2>Codelists</h2>
    <xsl:for-each select="$mdv/odm:CodeList"><h3 id="{@OID}"><xsl:value-of select="@Name"/></h3><ul>
      <xsl:for-each select="odm:EnumeratedItem"><li><xsl:value-of select="@CodedValue"/>
        <xsl:if test="@def:ExtendedValue='Yes'"> (sponsor extension)</xsl:if></li></xsl:for-each></ul>
    </xsl:for-each>
    </body></html>
  </xsl:template>
</xsl:stylesheet>
"""
