"""Spanish: pedir una persona, denunciar un acceso o un fraude, reclamar un cobro, el hartazgo."""

from __future__ import annotations

from services.agent_worker.escalation.lexicon import Lexicon

LEXICON = Lexicon(
    language="es",
    words={
        "det": "un|una|el|la|los|las|algun|alguna|al|a",
        "noun": "personas?|humanos?|ser humano|agentes?|asesor(a|es)?|operador(a|es)?"
        "|encargad[oa]|supervisor(a)?|gerente|responsable|alguien(?! mas)|compañer[oa]"
        "|atencion al cliente|servicio al cliente|emplead[oa]|representante|ejecutiv[oa]"
        "|especialista|tecnico",
        "adj": "real|de verdad|de carne y hueso|humano|humana|tuyo|tuya|suyo|suya",
        "human": "({det} )?{noun}( {adj})*",
        "denial": "no (fui|he sido|era) yo|yo no (fui|hice|pedi|lo hice|cambie)|que (yo )?no"
        " (hice|pedi|reconozco|autorice)|sin (mi )?(permiso|autorizacion|consentimiento)"
        "|(y )?yo (estoy|vivo) en|nunca he estado",
        "strong": "humanos?|personas? (real|de verdad|humana)|una persona|agentes?"
        "|asesor(es|a)?|operador(a|es)?|ejecutiv[oa]s?|atencion al cliente|servicio al cliente"
        "|alguien (real|de verdad)|encargad[oa]|supervisor(a)?|gerente",
        "cue": "quiero|necesito|quisiera|prefiero|me gustaria|deseo|puedo|podria|puedes|puede"
        "|por favor|porfa|pas\\w*|pon\\w*|comuni(c|qu)\\w*|transfi?er\\w*|hablar|atien\\w*"
        "|llam\\w*",
        "talk": "hablar|conversar|chatear|comunicarme|tratar esto|ver esto",
        "bot": "robot|bot|maquina|ia|inteligencia artificial|contestador|asistente virtual",
        "intruder": "alguien|un desconocido|otra persona|hackers?|estafador(es)?|terceros",
        "credential": "cuenta|correo|email|e-mail|contraseña|clave|tarjeta|datos|direccion|perfil"
        "|telefono|usuario",
        "charge": "cargos?|cobros?|pagos?|recibos?|facturas?|importes?|recargos?|comision(es)?"
        "|cuotas?|suscripcion|movimientos?",
    },
    negators=r"no|nunca|jamas|ni|nada|nadie|tampoco|sin|ningun|ninguna|ninguno",
    past=r"estaba|estuve|era|fui|estabamos",
    others=r"(mi|su|tu) (gato|perro|hijo|hija|marido|mujer|esposo|esposa|pareja|niños?|madre"
    r"|padre|jefe|amigo|amiga|vecino|hermano|hermana)",
    fillers=(
        "me te se lo la le yo muy tan ya que es esta estoy soy un una el los las de en realmente"
    ),
    asked_for_human={
        "talk to a person": "{talk} con {human}",
        "transfer me": "(pas\\w*|pon\\w*|comuni(c|qu)\\w*|transfier\\w*|transfer\\w*|deriv\\w*"
        "|conect\\w*) (me )?(con|a) {human}",
        "asks for a person": "{cue} … {strong}|{strong} … {cue}",
        "served by a person": "(atienda|atiendan|atendiera|atender|atenderme|atendido|atendida)"
        " (por )?{human}",
        "want a person": "(quiero|necesito|quisiera|prefiero|me gustaria|deseo|pido|exijo) (que me"
        " (atienda|atiendan|atendiera|llame|ayude) )?{human}",
        "a person, please": "^(un |una )?{human}( por favor| porfa| ya| ahora)*$",
        "not a bot": "no (quiero|deseo) (hablar|chatear|conversar) con ({det} )?{bot}",
        "is there a person": "(hay|existe) (alguien|una persona|algun humano|algun agente)"
        "( real| de verdad)? (con quien|que)",
        "call me": "me (llame|llamen|pueda llamar|puedan llamar|contacte|contacten) {human}"
        "|{human} … me (llame|llamen|devuelva la llamada|contacte|contacten|escriba)",
        "escalate": "(escalar|escala|escalen) (esto|el caso|mi caso|mi reclamo)",
    },
    account_security={
        "hacked": "hacke\\w+|jaquead\\w+|piratead\\w+|suplantad\\w+"
        "|(cuenta|correo|contraseña|tarjeta) … (comprometid[ao]|vulnerad[ao])",
        "someone is in my account": "{intruder} … (cambi\\w*|us[oóa]|usado|usando|tiene|sabe"
        "|conoce|entr\\w*|acced\\w*|modific\\w*) … (mi|mis|la) {credential}",
        "someone changed it": "{intruder} (me )?(la |lo |las |los )?(cambio|ha cambiado|cambiaron"
        "|modifico|ha modificado)",
        "reset, and not by me": (
            "(restablec|reset|cambi|modific)\\w* … (contraseña|clave)"
            "|(contraseña|clave) … (restablec|reset|cambi)\\w*",
            "{denial}",
        ),
        "they got into my account": "(me )?(han )?(entrado|entraron|accedido|accedieron"
        "|hackeado|usado|usaron|robado|robaron) (en|a|con)? (mi|la) cuenta",
        "changed, and not by me": (
            "(cambi\\w*|modific\\w*) (mi|la|el) (contraseña|correo|email"
            "|clave|direccion|telefono)|(contraseña|correo|email|clave)"
            " (fue|ha sido) (cambiad[oa]|modificad[oa])|se cambio (mi|la"
            "|el)|(compr\\w*|pedid\\w*) … (con|en|desde) mi cuenta"
            "|(inicio de sesion|acceso|login) (desde|en)",
            "{denial}",
        ),
        "activity I did not do": "(pedidos?|compras?|accesos?|inicios? de sesion|cambios?) …"
        " (en|de|desde) mi cuenta … (no|nunca) (hice|he hecho|realice|he realizado|pedi"
        "|he pedido|compre|autorice)",
        "codes I did not request": "(codigos?|claves?|pins?|sms|mensajes|correos) … (no|nunca)"
        " (he pedido|pedi|solicite|he solicitado)",
        "that was not me": (
            "no (fui|he sido|era) yo",
            "sesion|acces\\w*|entr\\w*|compr\\w*|pedid\\w*|aviso|alerta|login|cambi\\w*",
        ),
        "stolen": "(robaron|han robado|robo|han clonado|clonaron) (la|mi|mis|los) (tarjeta|cuenta"
        "|contraseña|identidad|datos)|robo de identidad|suplantacion de identidad",
        "phished": (
            "falso|falsa|phishing|estafa|fraudulento|parecia de ustedes|parecia suyo",
            "(puse|di|meti|introduje|escribi|ingrese) (mi|la|los) (contraseña|clave|tarjeta|datos)",
        ),
        "lock my account": "(bloqueen|bloquea|bloquear|congelen|desactiven|suspendan) (mi|la)"
        " cuenta",
        "fraud on my account": "(fraude|actividad sospechosa|movimientos sospechosos"
        "|accesos? no autorizados?|uso no autorizado) (en|de) mi (cuenta|tarjeta)"
        "|(fui|he sido|soy) victima de (un )?fraude|(denunciar|reportar) (un )?fraude",
    },
    billing_dispute={
        "charged twice": "(cobr\\w+|carg\\w+|facturad\\w+) … (dos veces|doble|por duplicado"
        "|de nuevo|otra vez)|(cobro|cargo) (doble|duplicado)",
        "a charge I do not recognise": "{charge} … (no|nunca) (lo |la )?(reconozco|autorice"
        "|he autorizado|pedi|he pedido|solicite|contrate)|no (reconozco|autorice) (este|ese|el"
        "|un|una|esta|esa) {charge}",
        "a payment I never authorised": "(no|nunca) (autorice|he autorizado) (este|ese|el|un"
        "|ningun) (pago|cargo|cobro)",
        "dispute a charge": "(quiero|voy a|necesito|deseo|quisiera|vengo a) (reclamar|impugnar"
        "|disputar|cuestionar|anular|rechazar) (un |el |este |ese |una |la |esta |esa )?"
        "({charge}|esto)",
        "billed after cancelling": "(siguen|sigue|continuan|continua) (cobrando|cobrandome"
        "|facturando|cargando)|(cobr\\w+|carg\\w+) … (aunque|a pesar de que|despues de que"
        "|pese a que|despues de|tras) … (cancele|cancelar|cancelarla|di de baja|darme de baja"
        "|anule|la baja)",
        "overcharged": "(cobr\\w+|carg\\w+|factur\\w+) … (de mas|demasiado|mas de la cuenta)"
        "|(eran|era|costaba|debia ser"
        "|me dijeron) … (y|pero) (me )?(cargaron|cobraron|han cobrado|han cargado)",
        "bill is wrong": "(factura|cobro|cargo|importe|recibo) (esta|es|viene) (mal|incorrect[oa]"
        "|equivocad[oa]|erróne[oa])|(cobro|cargo|factura|importe) … no es correct[oa]"
        "|{charge} … no (coincide|cuadra|corresponde)",
        "charged for what I did not get": "(cobr\\w+|factur\\w+) … (solo|pero) (recibi"
        "|me llego|me llegaron)",
        "reverse the charge": (
            "cobr|cargo|recargo|factur",
            "(quiero|que) (me )?(lo|la|los|las) (anulen|devuelvan|reembolsen|quiten|retiren)",
        ),
        "chargeback": "(pedir|abrir|hacer|solicitar|iniciar) (un |el )?contracargo",
        "purchases on my card I did not make": "(compras?|cargos?|pagos?|cobros?) … (en|de) mi"
        " tarjeta … (no|nunca) (hice|he hecho|realice|autorice)",
        "billed for more than I signed up for": "(cobr|factur|carg)\\w* … (cuando|aunque|pero)"
        " (yo )?solo",
    },
    frustration={
        "ridiculous": "vergüenza|el colmo|absurdo|ridiculo|inaceptable|indignante|lamentable"
        "|una estafa"
        "|un desastre|que desastre|una tomadura de pelo|un chiste|inutil(es)?|patetico",
        "fed up": "no (aguanto|soporto) (mas|a esta|a este|esta|este)|hart[oa]s?"
        "|hasta las narices|hasta el gorro|hasta la coronilla|(se me (esta acabando|acaba"
        "|agoto|acabo)|pierdo"
        "|perdiendo|perdi) la paciencia|no aguanto mas|ya basta",
        "angry": "enfad\\w*|enoj\\w*|furios[oa]|molest[oa] con|cabread[oa]|indignad[oa]",
        "disappointed": "decepcionad[oa]|decepcion|insatisfech[oa]|descontent[oa]"
        "|no estoy (content[oa]|satisfech[oa])",
        "worst": "peor (servicio|atencion|empresa|experiencia|trato)|(pesimo|horrible|fatal"
        "|malisimo|nefasto|menudo) (servicio|atencion|trato)|(servicio|atencion|trato) (mas )?"
        "(pesimo|horrible|fatal|malisimo|nefasto|de pena|malo)",
        "useless": "no (sirves|sirve|sirven) (para nada|de nada)",
        "complaint": "(poner|presentar|hacer) una (queja|reclamacion)|libro de reclamaciones"
        "|hoja de reclamaciones",
        "waste of time": "perdida de tiempo|perder el tiempo",
    },
    impatience={
        "ugh": "en serio|venga ya|por dios|madre mia|uf+",
        "not what I asked": "no es (lo que|eso lo que) (pregunte|pedi|dije)|eso no es lo que"
        " (pregunte|pedi)|no me (estas )?(escuchando|entiendes)",
        "annoying": "que rabia|que fastidio|que coraje|me estoy cansando|me canso|molesto",
        "again and again": "(tres|cuatro|varias|muchas|\\d+) (veces|dias|semanas)"
        "|ya (te )?lo (dije|he dicho|explique)|cuantas veces",
        "unbelievable": "increible|no me lo puedo creer|no puedo creer",
        "did not help": "no (me )?(ayuda|ayudo|sirvio|sirve de mucho)|nadie (me )?(resuelve"
        "|ayuda|hace) nada|nada funciona",
    },
    not_a_request=(
        "^(es necesario|hace falta|tengo que|hay que|tiene que|se necesita|debo)",
        "(mi|su|tu) (\\w+ )?(agente|asesor|gestor|representante)|soy (un |una )?(agente|asesor"
        "|gestor|representante)",
        "(eres|es usted|sos|estoy hablando con) (un |una )?(persona|humano|robot|bot|maquina)",
    ),
    hypothetical=(
        "^(como|que pasa|que hago|que debo|cuando|donde|cual|tienen|ofrecen|es seguro)",
        "(si|en caso de que|por si) (alguien|mi|me|alguna vez)",
    ),
    still_unresolved={
        "still": "sigue|siguen|sigo|todavia|aun (no|nada|sigue|igual)|tampoco|sigue igual"
        "|(el )?mismo (problema|error)|igual que antes",
        "did not work": "no (funciona|funciono|sirvio|sirve|cambia|cambio nada)",
        "nothing": "no (llega|llego|ha llegado|aparece|pasa) nada|(y|pero) nada|sigue sin"
        "|sin novedad",
        "already tried": "ya (lo |la )?(hice|he hecho|probe|he probado|intente|revise|confirme"
        "|actualice)|no esta en (spam|correo no deseado)",
    },
    non_answer=(
        "no (estoy seguro|estoy segura) de (haber|haberte|haberle) entendido|no (tengo|encuentro"
        "|dispongo de) (una )?(respuesta|informacion)|no (puedo|pude) (ayudarte|ayudarle) con eso",
    ),
    greeting=("^(hola|buenas|buenos dias|buenas tardes|buenas noches|que tal)( que tal)?$",),
    closing=(
        "gracias|eso es todo|nada mas|adios|hasta luego|da igual|olvidalo|ya lo (encontre"
        "|resolvi|tengo)|perfecto|listo|genial",
    ),
)
