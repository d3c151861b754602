"""Portuguese: pedir um atendente, relatar uma invasão, contestar uma cobrança, a irritação."""

from __future__ import annotations

from services.agent_worker.escalation.lexicon import Lexicon

LEXICON = Lexicon(
    language="pt",
    words={
        "det": "um|uma|o|a|os|as|algum|alguma|seu|sua",
        "noun": "sac|suporte( humano)?|atendentes?|pessoas?|humanos?|ser humano|gerente"
        "|supervisor(a)?|operador(a)?"
        "|alguem(?! mais)|colaborador(a)?|colega|agente|consultor(a)?|responsavel"
        "|funcionari[oa]|atendimento humano|representante|especialista",
        "adj": "de verdade|real|humano|humana|de carne e osso|seu|sua",
        "human": "({det} )?{noun}( {adj})*",
        "denial": "(nao|nunca) fui eu|nao era eu|eu nao (fiz|pedi|reconheco)|que eu nao (fiz"
        "|pedi|reconheco)|sem (a )?minha (autorizacao|permissao)|(e )?eu (estou|moro) em"
        "|nunca estive",
        "strong": "humanos?|pessoas? (real|de verdade)|uma pessoa|atendentes?"
        "|atendimento humano|suporte humano|sac|operador(a)?|gerente|alguem de verdade"
        "|consultor(a)?",
        "cue": "quero|queria|preciso|gostaria|prefiro|posso|pode|podia|por favor|pfv|transf\\w*"
        "|passa\\w*|coloca\\w*|falar|conversar|chama\\w*|atend\\w*",
        "talk": "falar|conversar|resolver isso|tratar disso",
        "bot": "robo|bot|maquina|ia|inteligencia artificial|assistente virtual|chatbot",
        "intruder": "alguem( mais)?|outra pessoa|um estranho|hackers?|golpistas?|terceiros",
        "credential": "conta|e-?mail|senha|palavra-passe|cartao|dados|endereco|perfil|telefone"
        "|celular|login|usuario",
        "charge": "cobrancas?|cobrado|debitos?|pagamentos?|faturas?|valor(es)?|taxas?|multas?"
        "|tarifas?|lancamentos?|frete|assinatura",
    },
    negators=r"nao|nunca|jamais|nem|nada|ninguem|nenhum|nenhuma|sem|n",
    past=r"estava|tava|era|fiquei|estive",
    others=r"(meu|minha|seu|sua) (gato|cachorro|filho|filha|marido|esposa|mulher|namorad[oa]|mae"
    r"|pai|chefe|amig[oa]|vizinh[oa]|irmao|irma)",
    fillers=(
        "eu me estou to ta esta e sou fui muito tao bem ja isso o a um uma de que mais mesmo "
        "no na nos nas do da em realmente"
    ),
    asked_for_human={
        "talk to a person": "{talk} (com|c/|c|pra|para) ({det} )?{human}",
        "asks for a person": "{cue} … {strong}|{strong} … {cue}",
        "transfer me": "(transfere|transfira|transferir|transferem|passa|passe|passar|passem"
        "|coloca|coloque|colocar|encaminha|encaminhe|encaminhar|conecta|conecte) (me )?(pra|para"
        "|pro|com|a|ao|em contato com) ({det} )?{human}",
        "want a person": "(quero|preciso de|gostaria de|queria|prefiro|desejo) (ser atendid[oa]"
        " por |falar com )?{human}",
        "served by a person": "(atendid[oa]|atendimento|atender|atenda|atende) (por|com|de)"
        " {human}",
        "call a person": "(chamar|chama|chame) ({det} )?{human}",
        "send me a person": "(me )?(passa|passe|manda|mande) (um|uma|o|a) {noun}",
        "a person, please": "^(um |uma )?{human}( por favor| pf| pfv| agora| ja)*$",
        "not a bot": "(nao|n) quero (falar|conversar) com ({det} )?{bot}",
        "is there a person": "(tem|ha|existe) (alguem|uma pessoa|algum atendente)( de verdade"
        "| real)? (com quem (eu )?(possa|posso) (falar|conversar)|que (possa|pode) (me )?(ajudar"
        "|atender))|(tem|ha|existe) (alguem|uma pessoa|um humano) (de verdade"
        "|real)",
        "call me": "{human} … (pode|podia|poderia|possa) (me )?(ligar|retornar|telefonar)"
        "|(me )?(liguem|ligue|retornem|retorne) (de volta|pra mim)",
        "a colleague can do it": "(colega|colaborador|atendente|funcionario)( seu| sua)? …"
        " (pode|podia|poderia) (fazer|resolver|ajudar|cuidar)",
    },
    account_security={
        "hacked": "hackead[oa]s?|hackearam|invadid[oa]s?|invadiram|clonad[oa]s?|clonaram"
        "|comprometid[oa]s?|sequestrad[oa]",
        "someone is in my account": "{intruder} … (mudou|trocou|alterou|entrando|acessando"
        "|mexendo|esta usando|ta usando"
        "|usou|usa|sabe|tem|entrou|acessou|invadiu|descobriu) … (meu|minha|a minha|o meu)"
        " {credential}",
        "someone changed it": "{intruder} (o |a )?(mudou|trocou|alterou)",
        "reset, and not by me": (
            "redefini\\w* (de |da )?senha|senha … (redefinid|alterad|trocad)\\w*",
            "{denial}",
        ),
        "they got into my account": "(entraram|acessaram|invadiram|usaram|mexeram) (na|a|em)"
        " (minha )?conta|(estao|tao) usando (o |a |os )?(meu|minha|meus|minhas) (dados|conta"
        "|cartao|nome)|no meu nome|(mudaram|trocaram|alteraram) (a|minha) (senha|e-mail|email"
        "|palavra-passe)",
        "changed, and not by me": (
            "(senha|e-?mail|conta|telefone|endereco) (foi|foram)"
            " (alterad[oa]|mudad[oa]|trocad[oa])|(compras?|pedidos?) …"
            " (com|na|pela) (a )?minha conta|(alerta|acesso|login)"
            " (de acesso )?(de|no|na|em)",
            "{denial}",
        ),
        "activity I did not do": "(pedidos?|compras?|acessos?|logins?|alteracoes|mudancas) …"
        " (na|da|pela|em) (minha )?conta … (nao|nunca) (fiz|realizei|pedi|comprei|autorizei)",
        "codes I did not request": "(codigos?|sms|mensagens|e-mails|alertas?) … (nao|nunca)"
        " (pedi|solicitei|requisitei)",
        "that was not me": (
            "(nao|nunca) fui eu|nao era eu",
            "login|acess\\w*|entr\\w*|pedid\\w*|compr\\w*|alert\\w*|aviso"
            "|alter\\w*|mud\\w*|troc\\w*",
        ),
        "stolen": "(roubaram|clonaram|furtaram) (o |a )?(meu|minha) (cartao|conta|senha"
        "|identidade|dados)|(meu|minha) (cartao|conta|senha|identidade) (foi|foram)"
        " (roubad[oa]|clonad[oa]|furtad[oa])|roubo de identidade",
        "phished": (
            "falso|falsa|phishing|golpe|fraudulento|parecia (de voces|ser de voces|seu)",
            "(coloquei|digitei|informei|passei|enviei|dei) (a |o )?(minha"
            "|meu) (senha|palavra-passe|cartao|dados|codigo)",
        ),
        "lock my account": "(bloqueiem|bloqueie|bloqueia|bloquear|suspendam|suspender"
        "|desativem|desativar) (a )?(minha )?conta",
        "fraud on my account": "(fraude|atividade suspeita|acessos? suspeitos?"
        "|acesso nao autorizado) (na|em) minha (conta|cartao)|(fui|sou) vitima de (fraude"
        "|golpe)|(denunciar|reportar) (uma )?fraude",
    },
    billing_dispute={
        "charged twice": "(cobrad[oa]|cobraram|cobrou|debitad[oa]|debitaram|descontaram) …"
        " (duas vezes|2 vezes|em dobro|de novo|novamente)|cobranca (duplicada|dupla|em dobro)",
        "a charge I do not recognise": "{charge} … (nao|nunca) (reconheco|autorizei|fiz|pedi"
        "|contratei|solicitei)|nao reconheco (essa|esta|esse|este|a|o|uma|um) {charge}",
        "purchases on my card I did not make": "(compras?|cobrancas?|pagamentos?) … (no|do)"
        " (meu )?cartao … (eu )?(nao|nunca) (fiz|realizei|autorizei)",
        "billed for more than I signed up for": "cobr\\w* … (sendo que|mas|quando|embora) (eu )?so",
        "a payment I never authorised": "(nunca|nao) autorizei (esse|este|essa|esta|o|a"
        "|nenhum|nenhuma) (pagamento|cobranca|debito|compra)",
        "dispute a charge": "(quero|vou|preciso|gostaria de|desejo) (contestar|reclamar de"
        "|questionar|estornar) (a |o |essa |esta |esse |este )?{charge}"
        "|(quero|pedir|solicito|solicitar) o estorno|(pedir|abrir|fazer|solicitar) (o |um )?"
        "chargeback",
        "billed after cancelling": "(continuam|continua|seguem) (cobrando|me cobrando|debitando"
        "|descontando)|(cobr\\w+|debit\\w+) … (mesmo depois|mesmo apos|apesar de|embora"
        "|depois que|depois de|apos) … (cancelei|cancelado|cancelada|cancelar|cancelamento)",
        "overcharged": "(cobr\\w+|debit\\w+|descont\\w+) … (a mais|demais|a maior)|(era|eram"
        "|custava|deveria ser"
        "|deveria custar) … (e|mas) (me )?(cobraram|cobrou|debitaram|descontaram)",
        "bill is wrong": "(fatura|cobranca|valor|conta|boleto) (esta|veio|ta|e) (errad[oa]"
        "|incorret[oa])|(valor|cobranca) (errad[oa]|incorret[oa])|{charge} … nao (bate|confere"
        "|corresponde)",
        "charged for what I did not get": "cobr\\w+ … (mas|porem) (so )?(recebi|chegou|chegaram)",
        "reverse the charge": (
            "cobr|multa|taxa|fatura|debit",
            "quero que (retirem|devolvam|estornem|cancelem|tirem)|quero (meu|o) dinheiro de volta",
        ),
    },
    frustration={
        "ridiculous": "absurdo|passou (dos|do) limites?|ridiculo|inaceitavel|vergonha|lamentavel"
        "|palhacada|uma piada"
        "|um lixo|descaso",
        "fed up": "saco cheio|(perdendo|perdi|acabou|acabando) (a )?(minha )?paciencia"
        "|nao aguento mais|ja deu|cansei",
        "angry": "furios[oa]|irritad[oa]|brav[oa]|revoltad[oa]|puto|puta da vida|nervos[oa]",
        "disappointed": "decepcionad[oa]|decepcao|insatisfeit[oa]|nao estou satisfeit[oa]"
        "|descontente",
        "worst": "pior (atendimento|servico|empresa|experiencia)|(atendimento|servico)"
        " (pessimo|horrivel|horroroso|terrivel|de quinta|porco|lixo)|(pessimo|horrivel|horroroso"
        "|terrivel) (atendimento|servico)",
        "useless": "nao (serve|serves|servem) (pra|para) nada|inutil",
        "complaint": "reclame aqui|procon|(abrir|fazer|registrar) uma reclamacao",
        "waste of time": "perda de tempo|perder (meu )?tempo",
    },
    impatience={
        "ugh": "serio|fala serio|ah nao|af+e?|pelo amor de deus",
        "not what I asked": "nao (foi|era|e) (bem )?isso (o )?que (eu )?perguntei"
        "|voce nao (esta )?(entendendo|me ouvindo)",
        "annoying": "que raiva|chato|irritante|(estou|to) ficando",
        "again and again": "(terceira|quarta|quinta|varias|\\d+) vez(es)?|quantas vezes"
        "|ja (falei|disse|expliquei)",
        "unbelievable": "inacreditavel|nao acredito",
        "did not help": "nao (me )?(ajuda|ajudou)|nao resolve(u)?|ninguem resolve nada",
    },
    not_a_request=(
        "(meu|minha|seu|sua) (\\w+ )?(corretor|agente|consultor|gerente)|sou (um |uma )?"
        "(corretor|agente|consultor)",
        "^(e preciso|e necessario|precisa|tenho que|tem que|sera que (eu )?preciso)",
        "(voce e|vc e|e voce|estou falando com|isso e) (um |uma )?(pessoa|humano|robo|bot|maquina)",
    ),
    hypothetical=(
        "^(como|o que (faco|fazer|acontece)|quando|onde|qual|quais|voces tem|tem como"
        "|e seguro|existe)",
        "(se|caso) (alguem|minha|meu|eu)",
    ),
    still_unresolved={
        "still": "continua|continuam|ainda (nao|da|aparece|esta)|tambem nao|mesmo (problema"
        "|erro)|continua igual",
        "did not work": "nao (funciona|funcionou|resolveu|aparece)",
        "nothing": "nao chegou nada|nada (chegou|aconteceu|mudou|ainda)|(e|mas) nada",
        "already tried": "ja (fiz|tentei|confirmei|verifiquei|atualizei)|nao esta no spam",
    },
    non_answer=(
        "nao tenho certeza (se|de que) entendi|nao (tenho|encontrei) (uma |nenhuma )?(resposta"
        "|informacao)|ainda nao tenho (uma )?resposta|nao consigo (te |lhe )?ajudar com isso",
    ),
    greeting=("^(oi|ola|bom dia|boa tarde|boa noite|e ai|opa)( tudo bem)?$",),
    closing=(
        "obrigad[oa]|valeu|brigad[oa]|era so isso|e so isso|tchau|ate mais|deixa pra la"
        "|deixa para la|esquece|resolvido|deu certo|perfeito|achei",
    ),
)
